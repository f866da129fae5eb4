#include "client/src/compression.h"

#include <zlib.h>

#include "absl/strings/str_cat.h"
#include "common/units.h"

namespace mq::client_internal {

absl::StatusOr<std::string> ZlibCompress(absl::string_view data, int level) {
  if (level < 0 || level > 9) {
    return absl::InvalidArgumentError(absl::StrCat("zlib level must be 0..9, got ", level));
  }
  uLongf size = compressBound(static_cast<uLong>(data.size()));
  std::string out(size, '\0');
  int rc = compress2(reinterpret_cast<Bytef*>(&out[0]), &size,
                     reinterpret_cast<const Bytef*>(data.data()), static_cast<uLong>(data.size()),
                     level);
  if (rc != Z_OK) return absl::InternalError(absl::StrCat("zlib compress2 failed: ", rc));
  out.resize(size);
  return out;
}

absl::StatusOr<std::string> ZlibUncompress(absl::string_view data, size_t max_size_bytes) {
  z_stream stream = {};
  if (inflateInit(&stream) != Z_OK) return absl::InternalError("zlib inflateInit failed");
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  std::string out;
  char chunk[16_KiB];
  int rc = Z_OK;
  while (rc == Z_OK) {
    stream.next_out = reinterpret_cast<Bytef*>(chunk);
    stream.avail_out = sizeof(chunk);
    rc = inflate(&stream, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) break;
    out.append(chunk, sizeof(chunk) - stream.avail_out);
    if (out.size() > max_size_bytes) {
      inflateEnd(&stream);
      return absl::ResourceExhaustedError(
          absl::StrCat("uncompressed body exceeds ", max_size_bytes, " bytes"));
    }
    // Input consumed without reaching the end of the stream: truncated data.
    if (rc == Z_OK && stream.avail_in == 0 && stream.avail_out != 0) rc = Z_DATA_ERROR;
  }
  inflateEnd(&stream);
  if (rc != Z_STREAM_END) {
    return absl::DataLossError(absl::StrCat("corrupt zlib body (zlib error ", rc, ")"));
  }
  return out;
}

}  // namespace mq::client_internal
