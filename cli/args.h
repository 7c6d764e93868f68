// Flag parsing shared by the `sawmill` subcommands: positional arguments, then --key value or
// --key=value flags; a bare trailing --flag is an error.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <map>
#include <string>
#include <vector>

namespace sawmill {

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
  bool GetU64(const std::string& k, uint64_t def, uint64_t* v) const {
    std::string s = Get(k, "");
    if (s.empty()) {
      *v = def;
      return true;
    }
    char* end = nullptr;
    *v = std::strtoull(s.c_str(), &end, 10);
    if (*end != '\0') {
      std::fprintf(stderr, "error: --%s wants a number, got '%s'\n", k.c_str(), s.c_str());
      return false;
    }
    return true;
  }
  bool OnlyFlags(std::initializer_list<const char*> allowed) const {
    for (const auto& [k, v] : flags) {
      bool ok = false;
      for (const char* a : allowed) ok |= k == a;
      if (!ok) {
        std::fprintf(stderr, "error: unknown flag --%s (see sawmill help)\n", k.c_str());
        return false;
      }
    }
    return true;
  }
};

}  // namespace sawmill
