// The TLS flags that mean the same to a server and to a client tool: this
// process's certificate and key, and the CAs it trusts. Servers add where
// they serve TLS (common/server_main.h); tools add their --tls switch.
#ifndef MQ_COMMON_TLS_FLAGS_H_
#define MQ_COMMON_TLS_FLAGS_H_

#include <string>

#include "absl/flags/declare.h"
#include "absl/time/time.h"

ABSL_DECLARE_FLAG(std::string, tls_cert_file);
ABSL_DECLARE_FLAG(std::string, tls_key_file);
ABSL_DECLARE_FLAG(std::string, tls_ca_file);
ABSL_DECLARE_FLAG(absl::Duration, tls_reload_interval);

#endif  // MQ_COMMON_TLS_FLAGS_H_
