// TLS for every gRPC port and every channel of the system, written once: the
// credentials a server listens with and a client dials with, both reading
// their certificate files through gRPC's file watcher, so a certificate
// replaced on disk (cert-manager renewing a Kubernetes secret) is served and
// presented within the reload interval, without a restart; and the
// self-signed certificate a server makes for itself when TLS is asked for
// without one.
#ifndef MQ_COMMON_TLS_H_
#define MQ_COMMON_TLS_H_

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace mq {

// How often certificate files are read again to pick up a replaced one.
inline constexpr absl::Duration kDefaultTlsReloadInterval = absl::Seconds(10);

// How a channel dials its server. Plaintext unless `enabled`.
struct ClientTls {
  bool enabled = false;
  // PEM bundle of the certificate authorities the server's certificate must
  // chain to; empty: the system's roots.
  std::string ca_file;
  // This side's certificate chain and key (PEM), presented for mutual TLS;
  // both or neither.
  std::string cert_file;
  std::string key_file;
  // false: the server's certificate is not checked at all (encryption without
  // authentication, as the RocketMQ 5 Java/Go/C++ clients do by default).
  bool verify_server = true;
  absl::Duration reload_interval = kDefaultTlsReloadInterval;

  // OK when disabled, or when the files named can be read and parsed (so a
  // typo is an error at start, not a failed handshake later).
  absl::Status Validate() const;
};

// Whether a TLS port asks the client for a certificate (Kafka's
// ssl.client.auth): kNone never; kRequest asks, verifies one if sent, and
// lets a client without one in; kRequire refuses a client without a valid one.
enum class ClientAuth { kNone, kRequest, kRequire };

// "none", "request" or "require"; anything else is INVALID_ARGUMENT.
absl::StatusOr<ClientAuth> ParseClientAuth(absl::string_view text);

// How a TLS port serves.
struct ServerTls {
  // The server's certificate chain and private key (PEM).
  std::string cert_file;
  std::string key_file;
  // PEM bundle of the certificate authorities client certificates must chain
  // to; required unless client_auth is kNone.
  std::string ca_file;
  ClientAuth client_auth = ClientAuth::kNone;
  absl::Duration reload_interval = kDefaultTlsReloadInterval;

  // OK when the files can be read and parsed, the key matches the
  // certificate, and a CA is given when client certificates are asked for.
  absl::Status Validate() const;
};

// Server credentials for `tls` (validated first).
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(const ServerTls& tls);

// `status`, of a call on a channel dialed as `tls`, with a hint when it
// looks like the two sides disagree on TLS: gRPC says only "Socket closed"
// to a plaintext client of a TLS port, and "wrong version number" to a TLS
// client of a plaintext port.
absl::Status WithTlsHint(const absl::Status& status, const ClientTls& tls);

// Channel credentials for `tls`: insecure ones when it is disabled. Channels
// made with equal settings share one credentials object (and one file
// watcher). `tls` must be valid (ClientTls::Validate).
std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(const ClientTls& tls);

// A self-signed certificate and key in `dir` ("server.crt", "server.key",
// the key readable by the owner only): the pair already there, else a new
// one (ECDSA P-256, valid for 10 years, for localhost, 127.0.0.1, ::1, the
// host's name and `extra_names`). Creates `dir` if needed.
struct SelfSignedCertificate {
  std::string cert_file;
  std::string key_file;
  bool created = false;
};
absl::StatusOr<SelfSignedCertificate> EnsureSelfSignedCertificate(
    const std::string& dir, const std::vector<std::string>& extra_names = {});

// SHA-256 of the first certificate in the PEM file (its DER form), as
// upper-case hex pairs joined by ':' (what `openssl x509 -fingerprint
// -sha256` prints).
absl::StatusOr<std::string> CertificateFingerprint(const std::string& pem_file);

}  // namespace mq

#endif  // MQ_COMMON_TLS_H_
