#include "common/tls.h"

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <tuple>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"

namespace mq {
namespace {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using NamePtr = std::unique_ptr<X509_NAME, Deleter<X509_NAME, X509_NAME_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;

BioPtr OpenFile(const std::string& path, const char* mode) {
  return BioPtr(BIO_new_file(path.c_str(), mode));
}

absl::StatusOr<X509Ptr> ReadCertificate(const std::string& path, absl::string_view what) {
  BioPtr bio = OpenFile(path, "r");
  if (bio == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("cannot read ", what, " ", path));
  }
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (cert == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " ", path, " holds no PEM certificate (BEGIN CERTIFICATE)"));
  }
  return cert;
}

absl::StatusOr<KeyPtr> ReadKey(const std::string& path) {
  BioPtr bio = OpenFile(path, "r");
  if (bio == nullptr) return absl::InvalidArgumentError(absl::StrCat("cannot read key ", path));
  KeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("key ", path, " holds no unencrypted PEM private key"));
  }
  return key;
}

// The certificate and key files: both given, readable, and a pair.
absl::Status ValidateIdentity(const std::string& cert_file, const std::string& key_file) {
  if (cert_file.empty() != key_file.empty()) {
    return absl::InvalidArgumentError(
        "a certificate and its key go together: give both --tls_cert_file and --tls_key_file");
  }
  if (cert_file.empty()) return absl::OkStatus();
  absl::StatusOr<X509Ptr> cert = ReadCertificate(cert_file, "certificate");
  if (!cert.ok()) return cert.status();
  absl::StatusOr<KeyPtr> key = ReadKey(key_file);
  if (!key.ok()) return key.status();
  if (X509_check_private_key(cert->get(), key->get()) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("key ", key_file, " is not the key of certificate ", cert_file));
  }
  return absl::OkStatus();
}

absl::Status ValidateCa(const std::string& ca_file) {
  if (ca_file.empty()) return absl::OkStatus();
  return ReadCertificate(ca_file, "CA bundle").status();
}

unsigned int ReloadSeconds(absl::Duration interval) {
  return static_cast<unsigned int>(std::max<int64_t>(1, absl::ToInt64Seconds(interval)));
}

std::string HostName() {
  char buffer[256] = {};
  if (gethostname(buffer, sizeof(buffer) - 1) != 0) return "";
  return buffer;
}

absl::Status AddExtension(X509* cert, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (ext == nullptr || X509_add_ext(cert, ext.get(), -1) != 1) {
    return absl::InternalError(absl::StrCat("cannot add certificate extension ", value));
  }
  return absl::OkStatus();
}

bool IsIpAddress(const std::string& name) {
  return !name.empty() && (name.find(':') != std::string::npos ||
                           std::all_of(name.begin(), name.end(),
                                       [](char c) { return absl::ascii_isdigit(c) || c == '.'; }));
}

absl::StatusOr<SelfSignedCertificate> CreateSelfSigned(const std::string& cert_file,
                                                       const std::string& key_file,
                                                       const std::vector<std::string>& names) {
  KeyPtr key(EVP_EC_gen("P-256"));
  X509Ptr cert(X509_new());
  if (key == nullptr || cert == nullptr) return absl::InternalError("cannot make a key pair");
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof(serial)) != 1) return absl::InternalError("no random bytes");
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof(serial), nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 365 * 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("mq self-signed"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(names.front().c_str()), -1, -1,
                             0);
  X509_set_issuer_name(cert.get(), name);
  std::vector<std::string> alt;
  for (const std::string& n : names)
    alt.push_back(absl::StrCat(IsIpAddress(n) ? "IP:" : "DNS:", n));
  for (const auto& [nid, value] : std::vector<std::pair<int, std::string>>{
           {NID_subject_alt_name, absl::StrJoin(alt, ",")},
           {NID_key_usage, "critical,digitalSignature,keyCertSign"},
           {NID_ext_key_usage, "serverAuth,clientAuth"},
           {NID_subject_key_identifier, "hash"}}) {
    if (absl::Status added = AddExtension(cert.get(), nid, value); !added.ok()) return added;
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    return absl::InternalError("cannot sign the certificate");
  }
  // The key is written owner-only and renamed into place after the
  // certificate, so a reader never sees a certificate without its key.
  const std::string key_tmp = key_file + ".tmp";
  {
    const mode_t old_mask = umask(077);
    BioPtr out = OpenFile(key_tmp, "w");
    umask(old_mask);
    if (out == nullptr || PEM_write_bio_PrivateKey(out.get(), key.get(), nullptr, nullptr, 0,
                                                   nullptr, nullptr) != 1) {
      return absl::InternalError(absl::StrCat("cannot write ", key_tmp));
    }
  }
  const std::string cert_tmp = cert_file + ".tmp";
  {
    BioPtr out = OpenFile(cert_tmp, "w");
    if (out == nullptr || PEM_write_bio_X509(out.get(), cert.get()) != 1) {
      return absl::InternalError(absl::StrCat("cannot write ", cert_tmp));
    }
  }
  if (std::rename(cert_tmp.c_str(), cert_file.c_str()) != 0 ||
      std::rename(key_tmp.c_str(), key_file.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot write ", cert_file, " and ", key_file));
  }
  return SelfSignedCertificate{cert_file, key_file, true};
}

struct CredentialsCache {
  absl::Mutex mu;
  std::map<std::tuple<std::string, std::string, std::string, bool, int64_t>,
           std::shared_ptr<grpc::ChannelCredentials>>
      by_settings ABSL_GUARDED_BY(mu);
};

}  // namespace

absl::Status ClientTls::Validate() const {
  if (!enabled) return absl::OkStatus();
  if (absl::Status ca = ValidateCa(ca_file); !ca.ok()) return ca;
  return ValidateIdentity(cert_file, key_file);
}

absl::StatusOr<ClientAuth> ParseClientAuth(absl::string_view text) {
  if (text == "none") return ClientAuth::kNone;
  if (text == "request") return ClientAuth::kRequest;
  if (text == "require") return ClientAuth::kRequire;
  return absl::InvalidArgumentError(
      absl::StrCat("--tls_client_auth must be none, request or require, got \"", text, "\""));
}

absl::Status ServerTls::Validate() const {
  if (cert_file.empty()) {
    return absl::InvalidArgumentError("a TLS port needs a certificate and key");
  }
  if (absl::Status identity = ValidateIdentity(cert_file, key_file); !identity.ok()) {
    return identity;
  }
  if (client_auth != ClientAuth::kNone && ca_file.empty()) {
    return absl::InvalidArgumentError(
        "--tls_client_auth=request or require needs --tls_ca_file, the CA that client "
        "certificates are checked against");
  }
  return ValidateCa(ca_file);
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(const ServerTls& tls) {
  if (absl::Status valid = tls.Validate(); !valid.ok()) return valid;
  const bool verify_clients = tls.client_auth != ClientAuth::kNone;
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      tls.key_file, tls.cert_file, verify_clients ? tls.ca_file : "",
      ReloadSeconds(tls.reload_interval));
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  switch (tls.client_auth) {
    case ClientAuth::kNone:
      options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
      break;
    case ClientAuth::kRequest:
      options.watch_root_certs();
      options.set_cert_request_type(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
      break;
    case ClientAuth::kRequire:
      options.watch_root_certs();
      options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
      break;
  }
  std::shared_ptr<grpc::ServerCredentials> credentials =
      grpc::experimental::TlsServerCredentials(options);
  if (credentials == nullptr) return absl::InternalError("gRPC refused the TLS settings");
  return credentials;
}

absl::Status WithTlsHint(const absl::Status& status, const ClientTls& tls) {
  absl::string_view hint;
  if (!tls.enabled && absl::IsUnavailable(status) &&
      absl::StrContains(status.message(), "Socket closed")) {
    hint =
        "a plaintext client of a TLS port sees this: if the server runs with "
        "--tls_mode=enforcing (or this is its --tls_port), dial it with TLS";
  } else if (tls.enabled && absl::StrContains(status.message(), "wrong version number")) {
    hint = "the port does not serve TLS: dial it in plaintext, or dial the server's --tls_port";
  } else if (tls.enabled && absl::StrContains(status.message(), "certificate verify failed")) {
    hint =
        "the server's certificate does not chain to the trusted CAs (the TLS CA file, or the "
        "system's roots without one)";
  }
  if (hint.empty()) return status;
  return absl::Status(status.code(), absl::StrCat(status.message(), " (", hint, ")"));
}

std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(const ClientTls& tls) {
  if (!tls.enabled) return grpc::InsecureChannelCredentials();
  static CredentialsCache* cache = new CredentialsCache;
  absl::MutexLock lock(&cache->mu);
  std::shared_ptr<grpc::ChannelCredentials>& cached =
      cache->by_settings[{tls.ca_file, tls.cert_file, tls.key_file, tls.verify_server,
                          absl::ToInt64Seconds(tls.reload_interval)}];
  if (cached != nullptr) return cached;
  grpc::experimental::TlsChannelCredentialsOptions options;
  const bool own_roots = tls.verify_server && !tls.ca_file.empty();
  if (own_roots || !tls.cert_file.empty()) {
    options.set_certificate_provider(
        std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
            tls.key_file, tls.cert_file, own_roots ? tls.ca_file : "",
            ReloadSeconds(tls.reload_interval)));
    if (own_roots) options.watch_root_certs();
    if (!tls.cert_file.empty()) options.watch_identity_key_cert_pairs();
  }
  if (tls.verify_server) {
    options.set_certificate_verifier(
        std::make_shared<grpc::experimental::HostNameCertificateVerifier>());
  } else {
    options.set_verify_server_certs(false);
    options.set_certificate_verifier(
        std::make_shared<grpc::experimental::NoOpCertificateVerifier>());
    options.set_check_call_host(false);
  }
  cached = grpc::experimental::TlsCredentials(options);
  return cached;
}

absl::StatusOr<SelfSignedCertificate> EnsureSelfSignedCertificate(
    const std::string& dir, const std::vector<std::string>& extra_names) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error)
    return absl::InvalidArgumentError(absl::StrCat("cannot create ", dir, ": ", error.message()));
  const std::string cert_file = (std::filesystem::path(dir) / "server.crt").string();
  const std::string key_file = (std::filesystem::path(dir) / "server.key").string();
  if (std::filesystem::exists(cert_file) || std::filesystem::exists(key_file)) {
    if (absl::Status valid = ValidateIdentity(cert_file, key_file); !valid.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("the certificate made on an earlier run is unusable (", valid.message(),
                       "); remove ", cert_file, " and ", key_file, " to make a new one"));
    }
    return SelfSignedCertificate{cert_file, key_file, false};
  }
  std::vector<std::string> names = {"localhost"};
  const std::string host = HostName();
  if (!host.empty() && host != "localhost") names.push_back(host);
  for (const std::string& name : extra_names) {
    if (!name.empty() && std::find(names.begin(), names.end(), name) == names.end()) {
      names.push_back(name);
    }
  }
  names.push_back("127.0.0.1");
  names.push_back("::1");
  return CreateSelfSigned(cert_file, key_file, names);
}

absl::StatusOr<std::string> CertificateFingerprint(const std::string& pem_file) {
  absl::StatusOr<X509Ptr> cert = ReadCertificate(pem_file, "certificate");
  if (!cert.ok()) return cert.status();
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (X509_digest(cert->get(), EVP_sha256(), digest, &length) != 1) {
    return absl::InternalError("cannot hash the certificate");
  }
  std::vector<std::string> pairs;
  for (unsigned int i = 0; i < length; ++i) pairs.push_back(absl::StrFormat("%02X", digest[i]));
  return absl::StrJoin(pairs, ":");
}

}  // namespace mq
