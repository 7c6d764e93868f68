// The one table of `sawmill` commands: what `sawmill --help` lists (grouped, a line each), where
// a command is dispatched, the nearest command suggested for a typo, and the bash completion
// script, all from the same entries.
#pragma once

#include <string>
#include <vector>

namespace sawmill {

struct CommandInfo {
  const char* name;
  const char* group;    // "local tools", "cluster", "store", ...: --help lists groups in table order
  const char* summary;  // one line
  int (*run)(int argc, char** argv);        // main's argc/argv (argv[1] is the command)
  std::vector<const char*> verbs;           // its subcommands, for completion ({} if none)
};

// `sawmill --help`: the commands by group, a line each.
std::string TopLevelHelp(const std::vector<CommandInfo>& commands);
// The command closest to `typo` (edit distance at most 2, or a prefix), or "" if none is.
std::string NearestCommand(const std::vector<CommandInfo>& commands, const std::string& typo);
// A bash completion script for `sawmill`: commands, then their verbs.
std::string BashCompletion(const std::vector<CommandInfo>& commands);

}  // namespace sawmill
