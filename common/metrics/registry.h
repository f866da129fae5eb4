// Metrics in Prometheus's text exposition format (version 0.0.4): counters,
// gauges and histograms, each a family of series told apart by label values,
// and collectors that compute gauges when the metrics are read (consumer lag,
// disk use). A server owns one Registry and hands it to the parts it
// instruments; `MetricsEndpoint` (endpoint.h) serves it over HTTP.
//
// Cardinality is bounded: a family takes at most `max_series` label sets.
// Past that, every new label set shares one series whose label values are all
// "_other_", so a flood of topics or queues costs memory once, not per name.
#ifndef MQ_COMMON_METRICS_REGISTRY_H_
#define MQ_COMMON_METRICS_REGISTRY_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace mq::metrics {

// The label value of the series that takes label sets past a family's cap.
inline constexpr absl::string_view kOverflowLabelValue = "_other_";

// A count that only goes up. Thread-safe, lock-free.
class Counter {
 public:
  void Increment(int64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// A value that goes up and down. Thread-safe, lock-free.
class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double delta);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Counts observations into buckets with fixed upper bounds (Prometheus's
// cumulative `le` buckets are computed when rendered). Thread-safe,
// lock-free.
class Histogram {
 public:
  // `bounds` ascending; +Inf is implied.
  explicit Histogram(const std::vector<double>* bounds);

  void Observe(double value);
  void ObserveDuration(absl::Duration duration) { Observe(absl::ToDoubleSeconds(duration)); }

  // Per-bucket (not cumulative) counts, the last for +Inf; and the sum.
  std::vector<uint64_t> bucket_counts() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }
  uint64_t count() const;
  const std::vector<double>& bounds() const { return *bounds_; }

 private:
  const std::vector<double>* const bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<double> sum_{0};
};

// Bucket bounds in seconds for latencies from 50 µs to 10 s.
const std::vector<double>& LatencyBuckets();
// Bucket bounds in bytes for message sizes: 1 KiB, 4 KiB, 16 KiB ... 4 MiB
// (RocketMQ 5's rocketmq_message_size bounds, plus a few between).
const std::vector<double>& MessageSizeBuckets();

enum class MetricType { kCounter, kGauge, kHistogram };

// The series of one metric name. Thread-safe; series are never removed, and
// the pointers WithLabels returns live as long as the family.
template <typename T>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         size_t max_series, std::function<std::unique_ptr<T>()> make)
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        max_series_(max_series),
        make_(std::move(make)) {}

  // The series with these label values (one per label name, in order),
  // created on first use; the overflow series once the family is full.
  T* WithLabels(const std::vector<std::string>& values) ABSL_LOCKS_EXCLUDED(mu_);
  // For a family without labels.
  T* Get() { return WithLabels({}); }

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  // Calls `visit` for each series, in no particular order.
  void ForEach(const std::function<void(const std::vector<std::string>&, const T&)>& visit) const
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
  const size_t max_series_;
  const std::function<std::unique_ptr<T>()> make_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::vector<std::string>, std::unique_ptr<T>> series_ ABSL_GUARDED_BY(mu_);
};

// What a collector writes when the metrics are read: samples of gauges it
// computes then. Each call names the family; repeated names are grouped.
class Collection {
 public:
  explicit Collection(size_t max_series) : max_series_(max_series) {}

  // One sample of gauge `name`; `help` and `label_names` as on the first
  // call of that name. Samples past the per-name cap are dropped (and
  // counted in the `<name>` family's overflow sample).
  void Gauge(absl::string_view name, absl::string_view help,
             const std::vector<std::string>& label_names, const std::vector<std::string>& values,
             double value);
  // Same, for a value that only goes up (a counter kept elsewhere).
  void Counter(absl::string_view name, absl::string_view help,
               const std::vector<std::string>& label_names, const std::vector<std::string>& values,
               double value);

  struct Sample {
    std::vector<std::string> values;
    double value = 0;
  };
  struct Metric {
    std::string name;
    std::string help;
    MetricType type = MetricType::kGauge;
    std::vector<std::string> label_names;
    std::vector<Sample> samples;
  };
  std::vector<Metric>& metrics() { return metrics_; }

 private:
  void Add(MetricType type, absl::string_view name, absl::string_view help,
           const std::vector<std::string>& label_names, const std::vector<std::string>& values,
           double value);

  const size_t max_series_;
  std::vector<Metric> metrics_;
  absl::flat_hash_map<std::string, size_t> index_;
};

// The metrics of one server. Thread-safe. Families are added at start-up and
// live as long as the registry. Adding a name that exists returns the existing
// family (so two parts of a server can count into one metric), which must have
// the same type and label names.
class Registry {
 public:
  // `max_series`: the most label sets per family (the --metrics_max_series
  // flag of the servers).
  explicit Registry(size_t max_series = 10000) : max_series_(max_series) {}

  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  Family<Counter>* AddCounter(std::string name, std::string help,
                              std::vector<std::string> label_names = {}) ABSL_LOCKS_EXCLUDED(mu_);
  Family<Gauge>* AddGauge(std::string name, std::string help,
                          std::vector<std::string> label_names = {}) ABSL_LOCKS_EXCLUDED(mu_);
  // `bounds` must outlive the registry (LatencyBuckets(), a static).
  Family<Histogram>* AddHistogram(std::string name, std::string help,
                                  std::vector<std::string> label_names,
                                  const std::vector<double>* bounds) ABSL_LOCKS_EXCLUDED(mu_);

  // `collect` runs on every read of the metrics (on the reader's thread);
  // it must be quick and thread-safe.
  void AddCollector(std::function<void(Collection*)> collect) ABSL_LOCKS_EXCLUDED(mu_);

  // Every family and collected sample in the text exposition format.
  std::string Render() const ABSL_LOCKS_EXCLUDED(mu_);

  size_t max_series() const { return max_series_; }

 private:
  const size_t max_series_;
  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<Family<Counter>>> counters_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<Family<Gauge>>> gauges_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<Family<Histogram>>> histograms_ ABSL_GUARDED_BY(mu_);
  std::vector<std::function<void(Collection*)>> collectors_ ABSL_GUARDED_BY(mu_);
};

// Times a scope into a histogram (nothing when `histogram` is null).
class ScopedTimer {
 public:
  explicit ScopedTimer(Histogram* histogram)
      : histogram_(histogram), start_(histogram != nullptr ? absl::Now() : absl::InfinitePast()) {}
  ~ScopedTimer() {
    if (histogram_ != nullptr) histogram_->ObserveDuration(absl::Now() - start_);
  }

  ScopedTimer(const ScopedTimer&) = delete;
  ScopedTimer& operator=(const ScopedTimer&) = delete;

 private:
  Histogram* const histogram_;
  const absl::Time start_;
};

// --- implementation of the template ---

template <typename T>
T* Family<T>::WithLabels(const std::vector<std::string>& values) {
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = series_.find(values);
    if (it != series_.end()) return it->second.get();
  }
  absl::MutexLock lock(&mu_);
  auto it = series_.find(values);
  if (it != series_.end()) return it->second.get();
  // One slot stays for the overflow series.
  if (!values.empty() && series_.size() + 1 >= max_series_) {
    std::vector<std::string> overflow(values.size(), std::string(kOverflowLabelValue));
    std::unique_ptr<T>& series = series_[overflow];
    if (series == nullptr) series = make_();
    return series.get();
  }
  std::unique_ptr<T>& series = series_[values];
  series = make_();
  return series.get();
}

template <typename T>
void Family<T>::ForEach(
    const std::function<void(const std::vector<std::string>&, const T&)>& visit) const {
  absl::ReaderMutexLock lock(&mu_);
  for (const auto& [values, series] : series_) visit(values, *series);
}

}  // namespace mq::metrics

#endif  // MQ_COMMON_METRICS_REGISTRY_H_
