#include "common/metrics/registry.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "glog/logging.h"

namespace mq::metrics {
namespace {

void AddToAtomic(std::atomic<double>* target, double delta) {
  double current = target->load(std::memory_order_relaxed);
  while (!target->compare_exchange_weak(current, current + delta, std::memory_order_relaxed)) {
  }
}

// A label value with backslash, double quote and newline escaped.
std::string EscapeLabelValue(absl::string_view value) {
  std::string escaped;
  escaped.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\':
        escaped += "\\\\";
        break;
      case '"':
        escaped += "\\\"";
        break;
      case '\n':
        escaped += "\\n";
        break;
      default:
        escaped += c;
    }
  }
  return escaped;
}

// Help text with backslash and newline escaped.
std::string EscapeHelp(absl::string_view help) {
  std::string escaped;
  for (char c : help) {
    if (c == '\\') {
      escaped += "\\\\";
    } else if (c == '\n') {
      escaped += "\\n";
    } else {
      escaped += c;
    }
  }
  return escaped;
}

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return absl::StrCat(static_cast<int64_t>(value));
  }
  // The shortest of 15 or 17 significant digits that reads back exactly.
  std::string text = absl::StrFormat("%.15g", value);
  if (std::strtod(text.c_str(), nullptr) != value) text = absl::StrFormat("%.17g", value);
  return text;
}

// `{a="x",b="y"}`, with an extra label (the histogram's `le`) if given; empty
// when there are no labels.
std::string LabelSet(const std::vector<std::string>& names, const std::vector<std::string>& values,
                     absl::string_view extra_name = "", absl::string_view extra_value = "") {
  std::string out;
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    absl::StrAppend(&out, out.empty() ? "{" : ",", names[i], "=\"", EscapeLabelValue(values[i]),
                    "\"");
  }
  if (!extra_name.empty()) {
    absl::StrAppend(&out, out.empty() ? "{" : ",", extra_name, "=\"", extra_value, "\"");
  }
  if (!out.empty()) out += "}";
  return out;
}

void Header(std::string* out, absl::string_view name, absl::string_view help,
            absl::string_view type) {
  absl::StrAppend(out, "# HELP ", name, " ", EscapeHelp(help), "\n", "# TYPE ", name, " ", type,
                  "\n");
}

// Series sorted by label values, so the output is stable between reads.
template <typename T>
std::map<std::vector<std::string>, const T*> Sorted(const Family<T>& family) {
  std::map<std::vector<std::string>, const T*> sorted;
  family.ForEach([&](const std::vector<std::string>& values, const T& series) {
    sorted.emplace(values, &series);
  });
  return sorted;
}

}  // namespace

void Gauge::Add(double delta) { AddToAtomic(&value_, delta); }

Histogram::Histogram(const std::vector<double>* bounds)
    : bounds_(bounds), counts_(new std::atomic<uint64_t>[bounds->size() + 1]) {
  for (size_t i = 0; i <= bounds_->size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double value) {
  const size_t bucket =
      std::lower_bound(bounds_->begin(), bounds_->end(), value) - bounds_->begin();
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  AddToAtomic(&sum_, value);
}

std::vector<uint64_t> Histogram::bucket_counts() const {
  std::vector<uint64_t> counts(bounds_->size() + 1);
  for (size_t i = 0; i < counts.size(); ++i) counts[i] = counts_[i].load(std::memory_order_relaxed);
  return counts;
}

uint64_t Histogram::count() const {
  uint64_t total = 0;
  for (uint64_t n : bucket_counts()) total += n;
  return total;
}

const std::vector<double>& LatencyBuckets() {
  static const std::vector<double> kBounds = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                              0.005,   0.01,   0.025,   0.05,   0.1,   0.25,
                                              0.5,     1,      2.5,     5,      10};
  return kBounds;
}

const std::vector<double>& MessageSizeBuckets() {
  static const std::vector<double> kBounds = {
      1024, 4096, 16384, 65536, 262144, 524288, 1024 * 1024.0, 2048 * 1024.0, 4096 * 1024.0};
  return kBounds;
}

void Collection::Gauge(absl::string_view name, absl::string_view help,
                       const std::vector<std::string>& label_names,
                       const std::vector<std::string>& values, double value) {
  Add(MetricType::kGauge, name, help, label_names, values, value);
}

void Collection::Counter(absl::string_view name, absl::string_view help,
                         const std::vector<std::string>& label_names,
                         const std::vector<std::string>& values, double value) {
  Add(MetricType::kCounter, name, help, label_names, values, value);
}

void Collection::Add(MetricType type, absl::string_view name, absl::string_view help,
                     const std::vector<std::string>& label_names,
                     const std::vector<std::string>& values, double value) {
  auto [it, inserted] = index_.try_emplace(std::string(name), metrics_.size());
  if (inserted) {
    metrics_.push_back(Metric{std::string(name), std::string(help), type, label_names, {}});
  }
  Metric& metric = metrics_[it->second];
  if (!values.empty() && metric.samples.size() + 1 >= max_series_) {
    // Past the cap: summed into the overflow sample (for a gauge of counts,
    // such as lag, the sum is what an operator wants from it).
    std::vector<std::string> overflow(values.size(), std::string(kOverflowLabelValue));
    if (metric.samples.empty() || metric.samples.back().values != overflow) {
      metric.samples.push_back(Sample{std::move(overflow), 0});
    }
    metric.samples.back().value += value;
    return;
  }
  metric.samples.push_back(Sample{values, value});
}

namespace {

// The family named `name` in `families`, or null; checks it matches.
template <typename T>
Family<T>* Existing(const std::vector<std::unique_ptr<Family<T>>>& families,
                    const std::string& name, const std::vector<std::string>& label_names) {
  for (const auto& family : families) {
    if (family->name() != name) continue;
    CHECK(family->label_names() == label_names)
        << "metric " << name << " added twice with different labels";
    return family.get();
  }
  return nullptr;
}

}  // namespace

Family<Counter>* Registry::AddCounter(std::string name, std::string help,
                                      std::vector<std::string> label_names) {
  absl::MutexLock lock(&mu_);
  if (Family<Counter>* family = Existing(counters_, name, label_names)) return family;
  counters_.push_back(
      std::make_unique<Family<Counter>>(std::move(name), std::move(help), std::move(label_names),
                                        max_series_, [] { return std::make_unique<Counter>(); }));
  return counters_.back().get();
}

Family<Gauge>* Registry::AddGauge(std::string name, std::string help,
                                  std::vector<std::string> label_names) {
  absl::MutexLock lock(&mu_);
  if (Family<Gauge>* family = Existing(gauges_, name, label_names)) return family;
  gauges_.push_back(std::make_unique<Family<Gauge>>(std::move(name), std::move(help),
                                                    std::move(label_names), max_series_,
                                                    [] { return std::make_unique<Gauge>(); }));
  return gauges_.back().get();
}

Family<Histogram>* Registry::AddHistogram(std::string name, std::string help,
                                          std::vector<std::string> label_names,
                                          const std::vector<double>* bounds) {
  absl::MutexLock lock(&mu_);
  if (Family<Histogram>* family = Existing(histograms_, name, label_names)) return family;
  histograms_.push_back(std::make_unique<Family<Histogram>>(
      std::move(name), std::move(help), std::move(label_names), max_series_,
      [bounds] { return std::make_unique<Histogram>(bounds); }));
  return histograms_.back().get();
}

void Registry::AddCollector(std::function<void(Collection*)> collect) {
  absl::MutexLock lock(&mu_);
  collectors_.push_back(std::move(collect));
}

std::string Registry::Render() const {
  std::string out;
  std::vector<std::function<void(Collection*)>> collectors;
  {
    absl::ReaderMutexLock lock(&mu_);
    for (const auto& family : counters_) {
      Header(&out, family->name(), family->help(), "counter");
      for (const auto& [values, counter] : Sorted(*family)) {
        absl::StrAppend(&out, family->name(), LabelSet(family->label_names(), values), " ",
                        counter->value(), "\n");
      }
    }
    for (const auto& family : gauges_) {
      Header(&out, family->name(), family->help(), "gauge");
      for (const auto& [values, gauge] : Sorted(*family)) {
        absl::StrAppend(&out, family->name(), LabelSet(family->label_names(), values), " ",
                        FormatValue(gauge->value()), "\n");
      }
    }
    for (const auto& family : histograms_) {
      Header(&out, family->name(), family->help(), "histogram");
      for (const auto& [values, histogram] : Sorted(*family)) {
        const std::vector<uint64_t> counts = histogram->bucket_counts();
        const std::vector<double>& bounds = histogram->bounds();
        uint64_t cumulative = 0;
        for (size_t i = 0; i < counts.size(); ++i) {
          cumulative += counts[i];
          const std::string le = i < bounds.size() ? FormatValue(bounds[i]) : "+Inf";
          absl::StrAppend(&out, family->name(), "_bucket",
                          LabelSet(family->label_names(), values, "le", le), " ", cumulative, "\n");
        }
        absl::StrAppend(&out, family->name(), "_sum", LabelSet(family->label_names(), values), " ",
                        FormatValue(histogram->sum()), "\n", family->name(), "_count",
                        LabelSet(family->label_names(), values), " ", cumulative, "\n");
      }
    }
    collectors = collectors_;
  }
  Collection collection(max_series_);
  for (const auto& collect : collectors) collect(&collection);
  for (const Collection::Metric& metric : collection.metrics()) {
    Header(&out, metric.name, metric.help,
           metric.type == MetricType::kCounter ? "counter" : "gauge");
    for (const Collection::Sample& sample : metric.samples) {
      absl::StrAppend(&out, metric.name, LabelSet(metric.label_names, sample.values), " ",
                      FormatValue(sample.value), "\n");
    }
  }
  return out;
}

}  // namespace mq::metrics
