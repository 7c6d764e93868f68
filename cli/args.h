// Flag parsing shared by the `sawmill` subcommands: positional arguments, then --key value or
// --key=value flags; a bare trailing --flag is an error. Numbers are checked (ParseNumber).
#pragma once

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <limits>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "common/status.h"

namespace sawmill {

// All of `text` as a number of type T, within [min, max]: base 10 (std::from_chars), no sign but
// a '-' for signed types, no spaces, nothing after it; a floating-point T also takes a fraction or
// an exponent but not inf or nan. kInvalidArgument otherwise, naming `what` (a flag, "--k", or an
// argument, "PARTITION") and the text.
template <typename T>
Result<T> ParseNumber(std::string_view text, std::string_view what, T min = std::numeric_limits<T>::lowest(),
                      T max = std::numeric_limits<T>::max()) {
  static_assert(std::is_arithmetic_v<T> && !std::is_same_v<T, bool>);
  const char* end = text.data() + text.size();
  T v{};
  auto [ptr, ec] = std::from_chars(text.data(), end, v);
  // A whole number that does not fit T, or a negative one for an unsigned T, is out of range.
  bool number = !text.empty() && ptr == end && (ec == std::errc() || ec == std::errc::result_out_of_range);
  if constexpr (std::is_unsigned_v<T>) {
    if (!number && text.size() > 1 && text[0] == '-') {
      T magnitude;
      auto m = std::from_chars(text.data() + 1, end, magnitude);
      number = m.ptr == end && (m.ec == std::errc() || m.ec == std::errc::result_out_of_range);
      ec = std::errc::result_out_of_range;
    }
  }
  auto quoted = [&] { return "'" + std::string(text) + "'"; };
  if (!number) {
    return InvalidArgument(std::string(what) + (std::is_integral_v<T> ? " wants a whole number" : " wants a number") +
                           ", got " + quoted());
  }
  if (ec == std::errc() && v >= min && v <= max) return v;  // nan fails both comparisons
  auto str = [](T x) {
    if constexpr (std::is_integral_v<T>) {
      return std::to_string(x);
    } else {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%g", static_cast<double>(x));
      return std::string(buf);
    }
  };
  return InvalidArgument(std::string(what) + " must be in " + str(min) + ".." + str(max) + ", got " + quoted());
}

// Whether argv[first..] asks for help (--help or -h anywhere among them): every command and
// verb answers it with its usage on stdout and exit 0, wherever it stands.
inline bool WantsHelp(int argc, char** argv, int first) {
  for (int i = first; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--help" || a == "-h") return true;
  }
  return false;
}

// Lets a command's flags come before its verb as well as after (`sawmill dataset --store D list`):
// moves the first argument from argv[first] on that is neither a flag nor a flag's value to
// argv[first]. `switches` are the flags that take no value.
inline void MoveVerbFirst(int argc, char** argv, int first, std::initializer_list<std::string_view> switches = {}) {
  for (int i = first; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a.size() > 1 && a[0] == '-') {
      const std::string_view name = a.substr(a.find_first_not_of('-'));
      bool is_switch = name.find('=') != std::string_view::npos || name == "help" || name == "h";
      for (std::string_view s : switches) is_switch |= name == s;
      if (!is_switch) ++i;  // its value
      continue;
    }
    char* verb = argv[i];
    for (int k = i; k > first; --k) argv[k] = argv[k - 1];
    argv[first] = verb;
    return;
  }
}

// --key value / --key=value flags after the positional arguments of a subcommand.
struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> flags;

  // `switches` are flags that take no value (--recursive); they read as "true".
  static bool Parse(int argc, char** argv, int first, Args* out,
                    std::initializer_list<const char*> switches = {}) {
    for (int i = first; i < argc; ++i) {
      std::string a = argv[i];
      if (a.rfind("--", 0) != 0) {
        out->positional.push_back(a);
        continue;
      }
      size_t eq = a.find('=');
      bool is_switch = a == "--help";
      for (const char* s : switches) is_switch |= a.substr(2) == s;
      if (is_switch && eq == std::string::npos) {
        out->flags[a.substr(2)] = "true";
      } else if (eq != std::string::npos) {
        out->flags[a.substr(2, eq - 2)] = a.substr(eq + 1);
      } else if (i + 1 < argc) {
        out->flags[a.substr(2)] = argv[++i];
      } else {
        std::fprintf(stderr, "error: flag %s needs a value\n", a.c_str());
        return false;
      }
    }
    return true;
  }
  std::string Get(const std::string& k, const std::string& def) const {
    auto it = flags.find(k);
    return it == flags.end() ? def : it->second;
  }
  bool Has(const std::string& k) const { return flags.count(k) > 0; }
  // --k as a number in [min, max] (ParseNumber), `def` when the flag is absent; an error naming
  // the flag is printed when it is not such a number (an empty value included).
  template <typename T>
  bool GetNumber(const std::string& k, T def, T* v, T min = std::numeric_limits<T>::lowest(),
                 T max = std::numeric_limits<T>::max()) const {
    auto it = flags.find(k);
    if (it == flags.end()) {
      *v = def;
      return true;
    }
    auto n = ParseNumber<T>(it->second, "--" + k, min, max);
    if (!n.ok()) {
      std::fprintf(stderr, "error: %s\n", n.status().message().c_str());
      return false;
    }
    *v = *n;
    return true;
  }
  bool GetU64(const std::string& k, uint64_t def, uint64_t* v) const { return GetNumber<uint64_t>(k, def, v); }
  // Whether every flag given is one of `allowed` or `more`; prints the first that is not.
  bool OnlyFlags(std::initializer_list<const char*> allowed, std::span<const char* const> more = {}) const {
    for (const auto& [k, v] : flags) {
      bool ok = false;
      for (const char* a : allowed) ok |= k == a;
      for (const char* a : more) ok |= k == a;
      if (!ok) {
        std::fprintf(stderr, "error: unknown flag --%s (see sawmill help)\n", k.c_str());
        return false;
      }
    }
    return true;
  }
};

}  // namespace sawmill
