#include "common/tls_flags.h"

#include "absl/flags/flag.h"
#include "common/tls.h"

ABSL_FLAG(std::string, tls_cert_file, "",
          "PEM certificate chain this process presents: a server serves it on its TLS port (empty: "
          "a self-signed one in --tls_dir); a client or a server dialing its peers shows it to "
          "servers that ask for one (mutual TLS).");
ABSL_FLAG(std::string, tls_key_file, "", "PEM private key of --tls_cert_file.");
ABSL_FLAG(std::string, tls_ca_file, "",
          "PEM bundle of the CAs this process trusts: servers' certificates must chain to it when "
          "dialing TLS (empty: the system's roots), and clients' certificates when a server asks "
          "for them (--tls_client_auth).");
ABSL_FLAG(absl::Duration, tls_reload_interval, mq::kDefaultTlsReloadInterval,
          "How often the certificate, key and CA files are read again: a renewed certificate is "
          "used within this time, without a restart.");
