// A message as a producer builds it.
#ifndef MQ_CLIENT_INCLUDE_MQ_MESSAGE_H_
#define MQ_CLIENT_INCLUDE_MQ_MESSAGE_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"

namespace mq {

// The default largest message body (RocketMQ's maxMessageSize), of the
// producer's and consumers' size options.
inline constexpr size_t kDefaultMaxMessageBodyBytes = 4 * 1024 * 1024;

// A value type: topic, tags, keys, flag, body and user properties. Tags, keys
// and the unique id are stored as the properties RocketMQ names TAGS, KEYS and
// UNIQ_KEY, exactly as they travel.
// Not thread-safe for concurrent mutation; copies are independent.
class Message {
 public:
  Message() = default;
  Message(std::string topic, std::string body);
  Message(std::string topic, absl::string_view tags, std::string body);
  Message(std::string topic, absl::string_view tags, absl::string_view keys, std::string body);

  const std::string& topic() const { return topic_; }
  void set_topic(std::string topic) { topic_ = std::move(topic); }

  // The tag used for filtering by consumers ("TagA"); empty when unset.
  std::string tags() const;
  void set_tags(absl::string_view tags);

  // Business keys, space separated, indexed by the broker for queries.
  std::string keys() const;
  void set_keys(absl::string_view keys);
  void set_keys(const std::vector<std::string>& keys);

  // The unique id (UNIQ_KEY); empty until the message is sent or set here.
  // The producer sets it at send time unless the application already did; 32
  // upper-case hex characters:
  //   IPv4 address (4 bytes) | pid (2 bytes, low half) | per-process random (4 bytes) |
  //   milliseconds since the start of the current UTC month (4 bytes) | counter (2 bytes).
  // Time and counter advance together, so ids never repeat within a process
  // even above 65536 ids per millisecond; the random part separates processes.
  std::string unique_id() const;
  void set_unique_id(absl::string_view id);

  // An application-defined integer stored with the message.
  int32_t flag() const { return flag_; }
  void set_flag(int32_t flag) { flag_ = flag; }

  // The payload: 1 byte .. ProducerOptions::max_message_size_bytes.
  const std::string& body() const { return body_; }
  void set_body(std::string body) { body_ = std::move(body); }

  // Delayed delivery: the message reaches its topic after delay level
  // `level` (1-based) of the store's level table (RocketMQ's default
  // "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h", the store's
  // --message_delay_level); 0 clears it. Stored as the DELAY property. A send
  // refuses a negative level, and the store one above its table, with
  // INVALID_ARGUMENT; a batch refuses any delayed message.
  void SetDelayTimeLevel(int level);
  // 0 when not delayed by level.
  int delay_time_level() const;

  // Delivery at `at` (RocketMQ 5's timer message, property TIMER_DELIVER_MS
  // in ms since the epoch), to the millisecond at best and in practice within
  // a second; a time in the past is delivered at once. The store refuses a
  // time further ahead than its --timer_max_delay (default 3 days).
  // absl::InfinitePast() clears it.
  void SetDeliverTime(absl::Time at);
  absl::optional<absl::Time> deliver_time() const;

  // All properties, including TAGS, KEYS and UNIQ_KEY when set.
  const std::map<std::string, std::string>& properties() const { return properties_; }
  // An empty value removes the property.
  void SetProperty(absl::string_view key, absl::string_view value);
  // The value, or "" when the property is absent.
  std::string GetProperty(absl::string_view key) const;

 private:
  std::string topic_;
  int32_t flag_ = 0;
  std::string body_;
  std::map<std::string, std::string> properties_;
};

}  // namespace mq

#endif  // MQ_CLIENT_INCLUDE_MQ_MESSAGE_H_
