// The usage of a command with verbs (dataset, logs, cluster) as one table of per-verb entries,
// so that `sawmill CMD --help` prints all of it and `sawmill CMD VERB --help` that verb's alone.
#pragma once

#include <algorithm>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "cli/args.h"

namespace sawmill {

struct VerbUsage {
  const char* verb;
  const char* text;                // its synopsis line(s) and what it does, indented as under "Usage:"
  std::vector<const char*> flags;  // the flags it takes besides the command's common ones
};

// Answer()'s result when the verb is to run.
inline constexpr int kRunVerb = -1;

struct CommandUsage {
  const char* command;                    // "dataset"
  const char* header;                     // before "Usage:"
  std::vector<VerbUsage> verbs;           // in the order `--help` lists them
  const char* notes;                      // after the verbs, shown with each verb too: what they share
  std::vector<const char*> common_flags;  // taken by every verb

  const VerbUsage* Find(std::string_view verb) const {
    for (const auto& v : verbs) {
      if (verb == v.verb) return &v;
    }
    return nullptr;
  }
  std::string All() const {
    std::string out = std::string(header) + "Usage:\n";
    for (const auto& v : verbs) out += v.text;
    return out + notes;
  }
  std::string Of(const VerbUsage& v) const { return std::string("Usage:\n") + v.text + notes; }

  // What every command with verbs answers alike, with argv[2] the verb (after MoveVerbFirst): no
  // verb (the usage on stderr, 2), --help or `help [VERB]` (stdout, 0), an unknown verb (2),
  // VERB ... --help (that verb's usage, 0). kRunVerb, with *verb set, when the verb is to run.
  int Answer(int argc, char** argv, const VerbUsage** verb) const {
    const std::string_view first = argc < 3 ? "" : argv[2];
    if (first == "help" || (first.starts_with('-') && WantsHelp(argc, argv, 2))) {
      const VerbUsage* v = first == "help" && argc > 3 ? Find(argv[3]) : nullptr;
      std::fputs((v ? Of(*v) : All()).c_str(), stdout);
      return 0;
    }
    if (first.empty() || first.starts_with('-')) {
      if (argc >= 3) std::fprintf(stderr, "error: sawmill %s needs a command\n\n", command);
      std::fputs(All().c_str(), stderr);
      return 2;
    }
    *verb = Find(first);
    if (*verb == nullptr) {
      std::fprintf(stderr, "error: unknown %s command '%s'\n\n%s", command, argv[2], All().c_str());
      return 2;
    }
    if (WantsHelp(argc, argv, 3)) {
      std::fputs(Of(**verb).c_str(), stdout);
      return 0;
    }
    return kRunVerb;
  }

  // Whether every flag given is one `v` takes; prints the first that is not.
  bool FlagsOk(const Args& args, const VerbUsage& v) const {
    auto has = [](const std::vector<const char*>& list, const std::string& flag) {
      return std::any_of(list.begin(), list.end(), [&](const char* f) { return flag == f; });
    };
    for (const auto& [flag, value] : args.flags) {
      if (has(common_flags, flag) || has(v.flags, flag)) continue;
      std::fprintf(stderr, "error: unknown flag --%s for %s %s (see sawmill %s %s --help)\n", flag.c_str(), command,
                   v.verb, command, v.verb);
      return false;
    }
    return true;
  }
};

}  // namespace sawmill
