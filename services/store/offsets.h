// Strong types for the two kinds of offset the store hands around side by
// side: a commit-log byte offset (PhysicalOffset) and a message's position in
// its consume queue (QueueOffset). Both were bare int64_t, and passing one for
// the other (RocketMQ's classic mix-up) compiled; now it does not. In the
// style of Redpanda's named_type: an explicit constructor from int64_t,
// value(), comparisons, and moving by a count (bytes or messages).
//
// The protos and the record format keep int64 fields: convert where the
// store meets them.
#ifndef MQ_SERVICES_STORE_OFFSETS_H_
#define MQ_SERVICES_STORE_OFFSETS_H_

#include <cstdint>
#include <ostream>
#include <utility>

namespace mq::store {

template <typename Tag>
class Offset {
 public:
  constexpr Offset() = default;
  constexpr explicit Offset(int64_t value) : value_(value) {}

  constexpr int64_t value() const { return value_; }

  // Moving by a count: bytes for a PhysicalOffset, messages for a QueueOffset.
  constexpr Offset& operator+=(int64_t n) {
    value_ += n;
    return *this;
  }
  constexpr Offset& operator-=(int64_t n) {
    value_ -= n;
    return *this;
  }
  friend constexpr Offset operator+(Offset a, int64_t n) { return a += n; }
  friend constexpr Offset operator-(Offset a, int64_t n) { return a -= n; }
  // The count between two offsets of the same kind.
  friend constexpr int64_t operator-(Offset a, Offset b) { return a.value_ - b.value_; }

  friend constexpr bool operator==(Offset a, Offset b) { return a.value_ == b.value_; }
  friend constexpr bool operator!=(Offset a, Offset b) { return a.value_ != b.value_; }
  friend constexpr bool operator<(Offset a, Offset b) { return a.value_ < b.value_; }
  friend constexpr bool operator<=(Offset a, Offset b) { return a.value_ <= b.value_; }
  friend constexpr bool operator>(Offset a, Offset b) { return a.value_ > b.value_; }
  friend constexpr bool operator>=(Offset a, Offset b) { return a.value_ >= b.value_; }

  template <typename H>
  friend H AbslHashValue(H h, Offset o) {
    return H::combine(std::move(h), o.value_);
  }
  friend std::ostream& operator<<(std::ostream& os, Offset o) { return os << o.value_; }

 private:
  int64_t value_ = 0;
};

// A byte offset in the commit log (where a record starts, or the end of the
// written data).
using PhysicalOffset = Offset<struct PhysicalOffsetTag>;
// A message's position in its topic/queue: the index of its consume-queue unit.
using QueueOffset = Offset<struct QueueOffsetTag>;

}  // namespace mq::store

#endif  // MQ_SERVICES_STORE_OFFSETS_H_
