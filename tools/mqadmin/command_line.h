// A small parser for subcommand options in RocketMQ's mqadmin style:
// "-t Topic", "--topic Topic", "--topic=Topic", "-tTopic", and flags
// without a value ("-o"). "-h" and "--help" ask for the usage text.
#ifndef MQ_TOOLS_MQADMIN_COMMAND_LINE_H_
#define MQ_TOOLS_MQADMIN_COMMAND_LINE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mq {
namespace tools {

struct OptionSpec {
  // The one-letter name ('t' for -t; 0 for none) and the long name ("topic"
  // for --topic).
  char short_name = 0;
  std::string long_name;
  // What the value is, for the usage text ("TOPIC"); empty for a flag that
  // takes no value.
  std::string value_name;
  std::string help;
  bool required = false;
};

// The options given, by long name. Values of flags are "true".
class ParsedOptions {
 public:
  bool help() const { return help_; }
  bool Has(absl::string_view long_name) const;
  // The value, or `fallback` when absent.
  std::string Get(absl::string_view long_name, absl::string_view fallback = "") const;
  // INVALID_ARGUMENT naming the option when the value is not an integer.
  absl::StatusOr<int64_t> GetInt(absl::string_view long_name, int64_t fallback) const;
  // Arguments that are not options.
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  friend absl::StatusOr<ParsedOptions> ParseOptions(const std::vector<OptionSpec>& specs,
                                                    const std::vector<std::string>& args);
  bool help_ = false;
  std::map<std::string, std::string, std::less<>> values_;
  std::vector<std::string> positional_;
};

// INVALID_ARGUMENT for an unknown option, a missing value, or (unless help
// was asked for) a missing required option.
absl::StatusOr<ParsedOptions> ParseOptions(const std::vector<OptionSpec>& specs,
                                           const std::vector<std::string>& args);

// "usage: mqadmin <command> -n ADDR -t TOPIC [-r NUM]" plus a line per option.
std::string Usage(absl::string_view program, absl::string_view command,
                  absl::string_view description, const std::vector<OptionSpec>& specs);

}  // namespace tools
}  // namespace mq

#endif  // MQ_TOOLS_MQADMIN_COMMAND_LINE_H_
