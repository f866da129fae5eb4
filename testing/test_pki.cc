#include "testing/test_pki.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "testing/server_process.h"

namespace mq::testing {
namespace {

constexpr char kOpenssl[] = "/usr/bin/openssl";

constexpr char kConfig[] = R"([req]
distinguished_name = dn
prompt = no
[dn]
CN = mq-test
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[leaf]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth,clientAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
)";

absl::Status Openssl(const std::vector<std::string>& args) {
  absl::StatusOr<ToolResult> result = RunTool(kOpenssl, args);
  if (!result.ok()) return result.status();
  if (result->exit_code != 0) {
    return absl::InternalError(
        absl::StrCat("openssl ", absl::StrJoin(args, " "), " failed: ", result->err));
  }
  return absl::OkStatus();
}

absl::Status MakeCa(const std::string& config, const std::string& cert, const std::string& key,
                    const std::string& name) {
  return Openssl({"req", "-x509", "-config", config, "-extensions", "ca", "-newkey", "ec",
                  "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out",
                  cert, "-days", "3650", "-subj", absl::StrCat("/CN=", name)});
}

}  // namespace

absl::StatusOr<TestPki> TestPki::Create(const std::string& dir) {
  TestPki pki;
  pki.dir_ = dir;
  pki.config_ = dir + "/openssl.cnf";
  std::ofstream(pki.config_) << kConfig;
  pki.ca_cert_ = dir + "/ca.crt";
  pki.ca_key_ = dir + "/ca.key";
  pki.other_ca_cert_ = dir + "/other-ca.crt";
  if (absl::Status s = MakeCa(pki.config_, pki.ca_cert_, pki.ca_key_, "mq-test-ca"); !s.ok()) {
    return s;
  }
  if (absl::Status s =
          MakeCa(pki.config_, pki.other_ca_cert_, dir + "/other-ca.key", "mq-untrusted-ca");
      !s.ok()) {
    return s;
  }
  return pki;
}

absl::StatusOr<CertificatePair> TestPki::Issue(const std::string& name) const {
  CertificatePair pair{absl::StrCat(dir_, "/", name, ".crt"),
                       absl::StrCat(dir_, "/", name, ".key")};
  const std::string csr = absl::StrCat(dir_, "/", name, ".csr");
  if (absl::Status s = Openssl({"req", "-new", "-config", config_, "-newkey", "ec", "-pkeyopt",
                                "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", pair.key_file,
                                "-out", csr, "-subj", absl::StrCat("/CN=", name)});
      !s.ok()) {
    return s;
  }
  if (absl::Status s = Openssl({"x509", "-req", "-in", csr, "-CA", ca_cert_, "-CAkey", ca_key_,
                                "-CAcreateserial", "-days", "3650", "-extfile", config_,
                                "-extensions", "leaf", "-out", pair.cert_file});
      !s.ok()) {
    return s;
  }
  return pair;
}

absl::StatusOr<std::string> ServedCertificateFingerprint(const std::string& address) {
  const size_t colon = address.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port)) {
    return absl::InvalidArgumentError(absl::StrCat("bad address ", address));
  }
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  inet_pton(AF_INET, address.substr(0, colon).c_str(), &to.sin_addr);
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  if (connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0) {
    close(fd);
    return absl::UnavailableError(absl::StrCat("cannot connect to ", address));
  }
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  static const unsigned char kAlpn[] = {2, 'h', '2'};
  SSL_CTX_set_alpn_protos(ctx, kAlpn, sizeof(kAlpn));
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  absl::StatusOr<std::string> result = absl::UnavailableError("no certificate");
  if (SSL_connect(ssl) == 1) {
    X509* cert = SSL_get1_peer_certificate(ssl);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (cert != nullptr && X509_digest(cert, EVP_sha256(), digest, &length) == 1) {
      std::vector<std::string> pairs;
      for (unsigned int i = 0; i < length; ++i) {
        pairs.push_back(absl::StrFormat("%02X", digest[i]));
      }
      result = absl::StrJoin(pairs, ":");
    }
    X509_free(cert);
  } else {
    result = absl::UnavailableError(absl::StrCat(
        "TLS handshake with ", address, " failed: ", ERR_error_string(ERR_get_error(), nullptr)));
  }
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  close(fd);
  return result;
}

}  // namespace mq::testing
