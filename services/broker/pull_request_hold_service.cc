#include "services/broker/pull_request_hold_service.h"

#include <glog/logging.h>

#include <algorithm>

#include "absl/time/clock.h"
#include "services/broker/subscription_filter.h"

namespace mq::broker {

PullRequestHoldService::PullRequestHoldService(store::StoreApi* store, Execute execute,
                                               PullHoldOptions options)
    : store_(store), execute_(std::move(execute)), options_(options) {}

PullRequestHoldService::~PullRequestHoldService() { Stop(); }

void PullRequestHoldService::Start() {
  {
    absl::MutexLock lock(&mu_);
    if (started_ || stopping_) return;
    started_ = true;
  }
  watch_ = store_->WatchQueues([this](const store::v1::QueueAdvance& advance) {
    NotifyMessageArriving(advance);
    if (advance_listener_ && !advance.topic().empty()) advance_listener_(advance);
  });
  thread_ = std::thread([this] { Loop(); });
}

void PullRequestHoldService::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  watch_.reset();
  std::vector<HeldPull> remaining;
  {
    absl::MutexLock lock(&mu_);
    remaining.swap(ready_);
    for (auto& [key, pulls] : held_) {
      for (HeldPull& pull : pulls) remaining.push_back(std::move(pull));
    }
    held_.clear();
  }
  if (!remaining.empty()) LOG(INFO) << "answering " << remaining.size() << " held pulls";
  for (HeldPull& pull : remaining) Answer(std::move(pull));
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](int64_t* executing) { return *executing == 0; }, &executing_));
}

bool PullRequestHoldService::Hold(broker::v1::PullMessageRequest request,
                                  std::vector<int64_t> tag_codes, absl::Time deadline,
                                  Callback done) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return false;
  int64_t offset = request.queue_offset();
  Park(HeldPull{std::move(request), std::move(tag_codes), deadline, std::move(done), offset},
       /*trust_known_offsets=*/true);
  return true;
}

void PullRequestHoldService::Park(HeldPull pull, bool trust_known_offsets) {
  QueueKey key(pull.request.topic(), pull.request.queue_id());
  if (trust_known_offsets) {
    auto known = known_max_offsets_.find(key);
    if (known != known_max_offsets_.end() && known->second > pull.request.queue_offset()) {
      ready_.push_back(std::move(pull));
      return;
    }
  }
  if (pull.deadline < wake_at_) deadline_moved_ = true;
  held_[key].push_back(std::move(pull));
}

void PullRequestHoldService::NotifyMessageArriving(const store::v1::QueueAdvance& advance) {
  if (advance.topic().empty()) return;  // the stream's opening message
  QueueKey key(advance.topic(), advance.queue_id());
  absl::MutexLock lock(&mu_);
  int64_t& known = known_max_offsets_[key];
  known = std::max(known, advance.max_offset());
  int64_t tag_code = advance.tag_code();
  WakeLocked(key, advance.max_offset(), &tag_code);
}

void PullRequestHoldService::WakeLocked(const QueueKey& key, int64_t max_offset,
                                        const int64_t* tag_code) {
  auto it = held_.find(key);
  if (it == held_.end()) return;
  std::vector<HeldPull> kept;
  for (HeldPull& pull : it->second) {
    bool wake = false;
    if (pull.verified_until < max_offset) {
      if (tag_code == nullptr || pull.tag_codes.empty() || pull.verified_until < max_offset - 1 ||
          MatchesTagCodes(pull.tag_codes, *tag_code)) {
        wake = true;
      } else {
        pull.verified_until = max_offset;
      }
    }
    if (wake) {
      ready_.push_back(std::move(pull));
    } else {
      kept.push_back(std::move(pull));
    }
  }
  if (kept.empty()) {
    held_.erase(it);
  } else {
    it->second = std::move(kept);
  }
}

size_t PullRequestHoldService::held_count() const {
  absl::MutexLock lock(&mu_);
  size_t count = ready_.size();
  for (const auto& [key, pulls] : held_) count += pulls.size();
  return count;
}

void PullRequestHoldService::Answer(HeldPull pull) {
  {
    absl::MutexLock lock(&mu_);
    ++executing_;
  }
  auto held = std::make_shared<HeldPull>(std::move(pull));
  execute_(held->request, held->tag_codes, [this, held](PullResult result) {
    Finish(std::move(*held), std::move(result));
    absl::MutexLock lock(&mu_);
    --executing_;
  });
}

void PullRequestHoldService::Finish(HeldPull pull, PullResult result) {
  if (result.ok() && absl::Now() < pull.deadline) {
    if (result->status() == broker::v1::NO_NEW_MSG) {
      absl::MutexLock lock(&mu_);
      if (!stopping_) {
        // Woken by an offset the read did not see (yet): keep waiting, but do
        // not trust the known offsets again, or this pull would spin.
        Park(std::move(pull), /*trust_known_offsets=*/false);
        return;
      }
    } else if (result->status() == broker::v1::NO_MATCHED_MSG &&
               result->next_begin_offset() > pull.request.queue_offset()) {
      // Only messages with other tags arrived: skip them and keep waiting, so
      // the consumer is answered when a match arrives instead of once per
      // unmatched message. The answer's next_begin_offset covers the skip.
      absl::MutexLock lock(&mu_);
      if (!stopping_) {
        pull.request.set_queue_offset(result->next_begin_offset());
        pull.verified_until = result->next_begin_offset();
        Park(std::move(pull), /*trust_known_offsets=*/true);
        return;
      }
    }
  }
  pull.done(std::move(result));
}

void PullRequestHoldService::CheckHeldQueues() {
  std::vector<QueueKey> keys;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [key, pulls] : held_) keys.push_back(key);
  }
  for (const QueueKey& key : keys) {
    store::v1::GetQueueOffsetsRequest request;
    request.set_topic(key.first);
    request.set_queue_id(key.second);
    absl::StatusOr<store::v1::GetQueueOffsetsResponse> offsets = store_->GetQueueOffsets(request);
    if (!offsets.ok()) {
      LOG_EVERY_N(WARNING, 100) << "cannot check offsets of " << key.first << "/" << key.second
                                << ": " << offsets.status();
      continue;
    }
    absl::MutexLock lock(&mu_);
    WakeLocked(key, offsets->max_offset(), /*tag_code=*/nullptr);
  }
}

void PullRequestHoldService::Loop() {
  absl::Time next_check = absl::Now() + options_.check_interval;
  while (true) {
    std::vector<HeldPull> due;
    {
      absl::MutexLock lock(&mu_);
      absl::Time wake = next_check;
      for (const auto& [key, pulls] : held_) {
        for (const HeldPull& pull : pulls) wake = std::min(wake, pull.deadline);
      }
      auto has_work = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || !ready_.empty() || deadline_moved_;
      };
      // held_ was scanned under this lock hold: only pulls parked from here
      // on can move the deadline.
      deadline_moved_ = false;
      wake_at_ = wake;
      mu_.AwaitWithDeadline(absl::Condition(&has_work), wake);
      wake_at_ = absl::InfiniteFuture();
      if (stopping_) return;
      due.swap(ready_);
      absl::Time now = absl::Now();
      for (auto it = held_.begin(); it != held_.end();) {
        std::vector<HeldPull>& pulls = it->second;
        auto expired = std::stable_partition(pulls.begin(), pulls.end(),
                                             [now](const HeldPull& p) { return p.deadline > now; });
        for (auto p = expired; p != pulls.end(); ++p) due.push_back(std::move(*p));
        pulls.erase(expired, pulls.end());
        it = pulls.empty() ? held_.erase(it) : std::next(it);
      }
    }
    for (HeldPull& pull : due) Answer(std::move(pull));
    if (absl::Now() >= next_check) {
      CheckHeldQueues();
      next_check = absl::Now() + options_.check_interval;
    }
  }
}

}  // namespace mq::broker
