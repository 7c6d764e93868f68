// The `sawmill` subcommands that live in their own files; each takes main's argc/argv
// (argv[1] is the subcommand) and returns the process exit code (2 for usage errors).
#pragma once

namespace sawmill {

int NamenodeCommand(int argc, char** argv);  // cli/namenode_cmd.cc
int DatanodeCommand(int argc, char** argv);  // cli/datanode_cmd.cc
int DfsCommand(int argc, char** argv);       // cli/dfs_cmd.cc
int ClusterCommand(int argc, char** argv);   // cli/cluster_cmd.cc

}  // namespace sawmill
