// zlib compression of message bodies (sys_flag bit 0).
#ifndef MQ_CLIENT_SRC_COMPRESSION_H_
#define MQ_CLIENT_SRC_COMPRESSION_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mq::client_internal {

// RocketMQ's sysFlag bit for a zlib-compressed body.
inline constexpr int kCompressedFlag = 0x1;

// A zlib stream (RFC 1950) of `data` at `level` (0..9).
absl::StatusOr<std::string> ZlibCompress(absl::string_view data, int level);

// The data of a zlib stream; DATA_LOSS if corrupt, RESOURCE_EXHAUSTED if the
// result would exceed `max_size_bytes`.
absl::StatusOr<std::string> ZlibUncompress(absl::string_view data, size_t max_size_bytes);

}  // namespace mq::client_internal

#endif  // MQ_CLIENT_SRC_COMPRESSION_H_
