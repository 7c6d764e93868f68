// The `sawmill` subcommands that live in their own files; each takes main's argc/argv
// (argv[1] is the subcommand) and returns the process exit code (2 for usage errors).
#pragma once

namespace sawmill {

int NamenodeCommand(int argc, char** argv);  // cli/namenode_cmd.cc
int DatanodeCommand(int argc, char** argv);  // cli/datanode_cmd.cc
int DfsCommand(int argc, char** argv);       // cli/dfs_cmd.cc
int ClusterCommand(int argc, char** argv);   // cli/cluster_cmd.cc
int CoordinatorCommand(int argc, char** argv);  // cli/coordinator_cmd.cc
int WorkerCommand(int argc, char** argv);    // cli/worker_cmd.cc
int JobCommand(int argc, char** argv);       // cli/job_cmd.cc
int LogsCommand(int argc, char** argv);
int BenchCommand(int argc, char** argv);     // cli/bench_cmd.cc
int DatasetCommand(int argc, char** argv);   // cli/dataset_cmd.cc
int PipelineCommand(int argc, char** argv);  // cli/pipeline_cmd.cc
int IndexCommand(int argc, char** argv);     // cli/index_cmd.cc

}  // namespace sawmill
