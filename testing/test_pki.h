// Certificates made by the openssl command line at test time, as an operator
// makes them: a CA, certificates it issues for 127.0.0.1/localhost (usable by
// servers and clients alike), and a second CA nobody trusts. Plus the
// certificate a TLS port serves, read the way any TLS client sees it.
#ifndef MQ_TESTING_TEST_PKI_H_
#define MQ_TESTING_TEST_PKI_H_

#include <string>

#include "absl/status/statusor.h"

namespace mq::testing {

struct CertificatePair {
  std::string cert_file;
  std::string key_file;
};

class TestPki {
 public:
  // A CA ("ca.crt", "ca.key") and an untrusted one ("other-ca.crt") in `dir`.
  static absl::StatusOr<TestPki> Create(const std::string& dir);

  const std::string& ca_file() const { return ca_cert_; }
  // A CA that issued none of the certificates here.
  const std::string& other_ca_file() const { return other_ca_cert_; }

  // A new key and certificate `name`.crt/.key in the directory, signed by
  // the CA (a new serial each time), for localhost and 127.0.0.1, for server
  // and client authentication.
  absl::StatusOr<CertificatePair> Issue(const std::string& name) const;

 private:
  std::string dir_;
  std::string config_;
  std::string ca_cert_;
  std::string ca_key_;
  std::string other_ca_cert_;
};

// SHA-256 fingerprint (as CertificateFingerprint) of the certificate the TLS
// port at `address` ("127.0.0.1:PORT") serves now, read by a TLS handshake
// that checks nothing.
absl::StatusOr<std::string> ServedCertificateFingerprint(const std::string& address);

}  // namespace mq::testing

#endif  // MQ_TESTING_TEST_PKI_H_
