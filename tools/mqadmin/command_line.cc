#include "tools/mqadmin/command_line.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace mq {
namespace tools {
namespace {

std::string OptionLabel(const OptionSpec& spec) {
  if (spec.short_name == 0) return absl::StrCat("--", spec.long_name);
  return absl::StrCat("-", std::string(1, spec.short_name), " (--", spec.long_name, ")");
}

}  // namespace

bool ParsedOptions::Has(absl::string_view long_name) const {
  return values_.find(long_name) != values_.end();
}

std::string ParsedOptions::Get(absl::string_view long_name, absl::string_view fallback) const {
  auto it = values_.find(long_name);
  return it == values_.end() ? std::string(fallback) : it->second;
}

absl::StatusOr<int64_t> ParsedOptions::GetInt(absl::string_view long_name, int64_t fallback) const {
  auto it = values_.find(long_name);
  if (it == values_.end()) return fallback;
  int64_t value = 0;
  if (!absl::SimpleAtoi(it->second, &value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", long_name, " needs an integer, got \"", it->second, "\""));
  }
  return value;
}

absl::StatusOr<ParsedOptions> ParseOptions(const std::vector<OptionSpec>& specs,
                                           const std::vector<std::string>& args) {
  ParsedOptions parsed;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h" || arg == "--help") {
      parsed.help_ = true;
      continue;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      parsed.positional_.push_back(arg);
      continue;
    }
    const OptionSpec* spec = nullptr;
    std::string value;
    bool has_value = false;
    if (absl::StartsWith(arg, "--")) {
      std::string name = arg.substr(2);
      const size_t equals = name.find('=');
      if (equals != std::string::npos) {
        value = name.substr(equals + 1);
        name = name.substr(0, equals);
        has_value = true;
      }
      for (const OptionSpec& s : specs) {
        if (s.long_name == name) spec = &s;
      }
    } else {
      for (const OptionSpec& s : specs) {
        if (s.short_name == arg[1]) spec = &s;
      }
      if (arg.size() > 2) {
        value = arg.substr(2);
        has_value = true;
      }
    }
    if (spec == nullptr) return absl::InvalidArgumentError(absl::StrCat("unknown option ", arg));
    if (spec->value_name.empty()) {
      if (has_value) {
        return absl::InvalidArgumentError(
            absl::StrCat(OptionLabel(*spec), " takes no value, got ", arg));
      }
      value = "true";
    } else if (!has_value) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat(OptionLabel(*spec), " needs a value (", spec->value_name, ")"));
      }
      value = args[++i];
    }
    parsed.values_[spec->long_name] = value;
  }
  if (!parsed.help_) {
    for (const OptionSpec& spec : specs) {
      if (spec.required && !parsed.Has(spec.long_name)) {
        return absl::InvalidArgumentError(
            absl::StrCat("missing required option ", OptionLabel(spec)));
      }
    }
  }
  return parsed;
}

std::string Usage(absl::string_view program, absl::string_view command,
                  absl::string_view description, const std::vector<OptionSpec>& specs) {
  std::string synopsis = absl::StrCat("usage: ", program, " ", command);
  std::string lines;
  for (const OptionSpec& spec : specs) {
    std::string option = spec.short_name == 0 ? absl::StrCat("--", spec.long_name)
                                              : absl::StrCat("-", std::string(1, spec.short_name));
    if (!spec.value_name.empty()) absl::StrAppend(&option, " ", spec.value_name);
    absl::StrAppend(&synopsis, " ", spec.required ? option : absl::StrCat("[", option, "]"));
    std::string names = spec.short_name == 0 ? absl::StrCat("    --", spec.long_name)
                                             : absl::StrCat("-", std::string(1, spec.short_name),
                                                            ", --", spec.long_name);
    if (!spec.value_name.empty()) absl::StrAppend(&names, " ", spec.value_name);
    absl::StrAppend(&lines, absl::StrFormat("  %-36s %s%s\n", names, spec.help,
                                            spec.required ? " (required)" : ""));
  }
  absl::StrAppend(&lines, absl::StrFormat("  %-36s %s\n", "-h, --help", "print this help"));
  return absl::StrCat(synopsis, "\n", description, "\n", lines);
}

}  // namespace tools
}  // namespace mq
