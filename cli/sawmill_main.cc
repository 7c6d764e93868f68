// `sawmill`: the one CLI. Subcommands: cat, manifest, gen, run (cluster commands come with the
// file store and the coordinator).
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/command_table.h"
#include "cli/commands.h"
#include "cli/escape.h"
#include "cli/jobs_dir.h"
#include "cli/store_args.h"
#include "cli/text_generators.h"
#include "common/fault_point.h"
#include "common/file.h"
#include "common/local_fs.h"
#include "common/subprocess.h"
#include "datasets/dataset_catalog.h"
#include "dfs/client/connect_dfs.h"
#include "records/manifest.h"
#include "records/record_file.h"

namespace sawmill {
namespace {

constexpr char kCatUsage[] = R"(Usage: sawmill cat [--format text|raw|keys|values] [--cluster D] PATH...
  Prints the records of record files or output directories (their part-* files in order).
  With --cluster D, dfs:/ paths name files in cluster D's store.
  text (default): key<TAB>value per line, with tab, newline and backslash escaped as \t \n \\.
  raw: key and value bytes back to back (teragen records come out as they went in).
  keys / values: the raw key / value followed by a newline.
)";
constexpr char kManifestUsage[] = R"(Usage: sawmill manifest [--store DIR | --cluster D] DIR|dataset:NAME[@VERSION]
  Prints an output directory's _MANIFEST (partitioning, parts, counts, content hashes).
  With --cluster D, dfs:/ paths name directories in cluster D's store; a dataset's version
  (current by default) is found in the store of --store or --cluster.
)";
constexpr char kGenUsage[] = R"(Usage: sawmill gen text [--bytes N] [--vocabulary V] [--seed S] [--output FILE]
       sawmill gen logs [--lines N] [--seed S] [--format text|combined] [--output FILE]
  text: Zipf-distributed words, 5-15 per line (default 1 MB, 75000 words; stdout by default).
  logs: access-log-like lines for demos (default 10000): text "TIME HOST METHOD PATH STATUS
        LATENCYms user=USER", or combined log format lines ending in the response time in
        seconds (what `sawmill logs append --format combined` and page_stats --log_format
        combined read).
)";
constexpr char kRunUsage[] = R"(Usage: sawmill run JOB [JOB FLAGS...]
  Runs the job binary JOB (from jobs/ beside this binary, or, installed, from
  ../libexec/sawmill/jobs) in local mode, as running it with --local does. `sawmill run JOB --help` shows the job's flags.
)";
constexpr char kCompletionUsage[] = R"(Usage: sawmill completion bash
  Prints a bash completion script for sawmill (commands and their verbs), made from the same
  table as `sawmill --help`. `cmake --install` installs it as
  PREFIX/share/bash-completion/completions/sawmill; or: source <(sawmill completion bash)
)";


int Cat(const Args& args) {
  if (!args.OnlyFlags({"format", "cluster"})) return 2;
  std::string format = args.Get("format", "text");
  if (format != "text" && format != "raw" && format != "keys" && format != "values") {
    std::fprintf(stderr, "error: --format must be text, raw, keys or values\n");
    return 2;
  }
  if (args.positional.empty()) {
    std::fprintf(stderr, "error: sawmill cat needs a file or directory\n");
    return 2;
  }
  // dfs:/ paths name files in the store of --cluster D.
  std::unique_ptr<dfs::ScopedDfs> store;
  if (args.Has("cluster")) {
    auto conn = dfs::ScopedDfs::Connect(args.Get("cluster", ""));
    if (!conn.ok()) {
      std::fprintf(stderr, "error: %s\n", conn.status().message().c_str());
      return 2;
    }
    store = std::move(conn).value();
  }
  std::vector<std::string> files;
  for (const auto& p : args.positional) {
    auto resolved = ResolvePath(p);
    if (!resolved.ok()) {
      std::fprintf(stderr, "error: %s\n", resolved.status().message().c_str());
      return 2;
    }
    auto info = resolved->fs->Stat(resolved->path);
    if (!info.ok()) {
      std::fprintf(stderr, "error: no such file or directory: %s\n", p.c_str());
      return 2;
    }
    if (!info->is_dir) {
      files.push_back(p);
      continue;
    }
    auto entries = resolved->fs->List(resolved->path);
    if (!entries.ok()) {
      std::fprintf(stderr, "error: %s\n", entries.status().message().c_str());
      return 1;
    }
    for (const auto& e : *entries) {
      std::string n = Basename(e.path);
      if (n.rfind("part-", 0) == 0) files.push_back(JoinPath(p, n));
    }
  }
  std::string out;
  auto flush = [&] {
    if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size()) return false;
    out.clear();
    return true;
  };
  for (const auto& f : files) {
    auto reader = RecordFileReader::Open(f);
    if (!reader.ok()) {
      flush();
      std::fprintf(stderr, "error: %s\n", reader.status().message().c_str());
      return 1;
    }
    RecordIterator it = (*reader)->NewIterator();
    while (it.Next()) {
      if (format == "text") {
        AppendEscaped(&out, it.key());
        out.push_back('\t');
        AppendEscaped(&out, it.value());
        out.push_back('\n');
      } else if (format == "raw") {
        out.append(it.key());
        out.append(it.value());
      } else {
        out.append(format == "keys" ? it.key() : it.value());
        out.push_back('\n');
      }
      if (out.size() >= (1 << 20) && !flush()) return 1;
    }
    if (!it.status().ok()) {
      flush();
      std::fprintf(stderr, "error: %s\n", it.status().message().c_str());
      return 1;
    }
  }
  return flush() ? 0 : 1;
}

int ManifestCmd(const Args& args) {
  if (args.positional.size() != 1 || !args.OnlyFlags({"store", "cluster"})) {
    std::fprintf(stderr, "usage: sawmill manifest [--store DIR | --cluster D] DIR|dataset:NAME[@VERSION]\n");
    return 2;
  }
  std::string dir = args.positional[0];
  std::unique_ptr<StoreArgs> store;
  if (args.Has("store") || args.Has("cluster")) {
    auto opened = OpenStore(args);
    if (!opened.ok()) {
      std::fprintf(stderr, "error: %s\n", opened.status().message().c_str());
      return 2;
    }
    store = std::make_unique<StoreArgs>(std::move(opened).value());
  }
  if (datasets::IsDatasetPath(dir)) {
    if (!store) {
      std::fprintf(stderr, "error: %s needs --store DIR or --cluster D\n", dir.c_str());
      return 2;
    }
    auto resolved = datasets::ResolveForRead(store->root, dir);
    if (!resolved.ok()) {
      std::fprintf(stderr, "error: %s\n", resolved.status().message().c_str());
      return 2;
    }
    dir = *resolved;
  }
  const std::string path = JoinPath(dir, kManifestName);
  auto resolved = ResolvePath(path);
  if (!resolved.ok() || !resolved->fs->Stat(resolved->path).ok()) {
    std::fprintf(stderr, "error: no manifest at %s%s\n", path.c_str(),
                 path.rfind("dfs:", 0) == 0 && !args.Has("cluster") ? " (dfs: paths need --cluster D)" : "");
    return 2;
  }
  auto m = ReadManifest(path);
  if (!m.ok()) {
    std::fprintf(stderr, "error: %s\n", m.status().message().c_str());
    return 1;
  }
  std::printf("%s\n", ManifestToText(*m).c_str());
  return 0;
}

int Gen(const Args& args) {
  if (args.positional.size() != 1 || (args.positional[0] != "text" && args.positional[0] != "logs")) {
    std::fputs(kGenUsage, stderr);
    return 2;
  }
  bool text = args.positional[0] == "text";
  if (!(text ? args.OnlyFlags({"bytes", "vocabulary", "seed", "output"})
             : args.OnlyFlags({"lines", "seed", "format", "output"}))) {
    return 2;
  }
  const std::string format = args.Get("format", "text");
  if (format != "text" && format != "combined") {
    std::fprintf(stderr, "error: bad --format '%s' (want text or combined)\n", format.c_str());
    return 2;
  }
  // The numbers first, so that a usage error leaves no output file behind.
  ZipfTextOptions zipf;
  LogTextOptions log;
  if (!args.GetU64("seed", 1, &zipf.seed) || !args.GetU64("bytes", 1 << 20, &zipf.bytes) ||
      !args.GetNumber<uint32_t>("vocabulary", 75000, &zipf.vocabulary, 1) || !args.GetU64("lines", 10000, &log.lines)) {
    return 2;
  }
  log.seed = zipf.seed;
  log.combined = format == "combined";
  std::string output = args.Get("output", "");
  FILE* out = output.empty() ? stdout : std::fopen(output.c_str(), "wb");
  if (!out) {
    std::perror(output.c_str());
    return 1;
  }
  bool ok = text ? WriteZipfText(out, zipf) : WriteLogText(out, log);
  if (out != stdout) ok = (std::fclose(out) == 0) && ok;
  if (!ok) std::fprintf(stderr, "error: writing %s failed\n", output.empty() ? "stdout" : output.c_str());
  return ok ? 0 : 1;
}

// A command of this file whose arguments are flags and positionals: --help prints `usage`.
int WithArgs(int argc, char** argv, const char* usage, int (*run)(const Args&)) {
  Args args;
  if (!Args::Parse(argc, argv, 2, &args)) return 2;
  if (args.Has("help")) {
    std::fputs(usage, stdout);
    return 0;
  }
  return run(args);
}

int CatCommand(int argc, char** argv) { return WithArgs(argc, argv, kCatUsage, Cat); }
int ManifestCommand(int argc, char** argv) { return WithArgs(argc, argv, kManifestUsage, ManifestCmd); }
int GenCommand(int argc, char** argv) { return WithArgs(argc, argv, kGenUsage, Gen); }

int Run(int argc, char** argv) {
  if (argc >= 3 && (!std::strcmp(argv[2], "--help") || !std::strcmp(argv[2], "-h"))) {
    std::fputs(kRunUsage, stdout);
    return 0;
  }
  if (argc < 3) {
    std::fputs(kRunUsage, stderr);
    return 2;
  }
  std::string job = argv[2];
  if (job.find('/') != std::string::npos || job.empty() || job[0] == '.') {
    std::fprintf(stderr, "error: bad job name '%s'\n", job.c_str());
    return 2;
  }
  std::string path = JoinPath(DefaultJobsDir(), job);
  if (::access(path.c_str(), X_OK) != 0) {
    std::fprintf(stderr, "error: no job binary %s\n", path.c_str());
    return 2;
  }
  std::vector<std::string> args = {path};
  for (int i = 3; i < argc; ++i) {
    if (std::strcmp(argv[i], "--local") != 0) args.push_back(argv[i]);
  }
  Status s = ExecReplacing(args);  // returns only on failure
  std::fprintf(stderr, "error: %s\n", s.ToString().c_str());
  return 1;
}

const std::vector<CommandInfo>& Table();

int CompletionCommand(int argc, char** argv) {
  if (argc == 3 && !std::strcmp(argv[2], "bash")) {
    std::fputs(BashCompletion(Table()).c_str(), stdout);
    return 0;
  }
  const bool help = WantsHelp(argc, argv, 2);
  // Name what is wrong: a flag (`completion bash --x`, `completion --x bash`: it takes none) or
  // a shell other than bash.
  int flag = 2;
  while (flag < argc && argv[flag][0] != '-') ++flag;
  if (!help && flag < argc) {
    std::fprintf(stderr, "error: unknown flag %s (sawmill completion takes none)\n", argv[flag]);
  } else if (!help && argc > 3) {
    std::fprintf(stderr, "error: unexpected argument %s\n", argv[3]);
  } else if (!help && argc == 3) {
    std::fprintf(stderr, "error: no completion for '%s' (only bash)\n", argv[2]);
  }
  std::fputs(kCompletionUsage, help ? stdout : stderr);
  return help ? 0 : 2;
}

// `sawmill help [COMMAND]`.
int HelpCommand(int argc, char** argv);

const std::vector<CommandInfo>& Table() {
  static const auto* table = new std::vector<CommandInfo>{
      {"run", "local tools", "run a job binary in local mode", Run, {}},
      {"cat", "local tools", "print the records of record files or output directories", CatCommand, {}},
      {"manifest", "local tools", "print an output's _MANIFEST (parts, counts, content hashes)", ManifestCommand, {}},
      {"gen", "local tools", "generate demo inputs: Zipf text or access-log lines", GenCommand, {"text", "logs"}},
      {"index", "local tools", "ranked queries over an inverted index", IndexCommand, {"query"}},
      {"cluster", "cluster", "start, stop and restart a local test cluster of separate processes", ClusterCommand,
       {"up", "down", "status", "start"}},
      {"job", "cluster", "submit, follow, list, kill jobs on a coordinator; their logs", JobCommand,
       {"submit", "status", "list", "kill", "logs", "wait"}},
      {"dfs", "store", "the file store from the shell: put, get, ls, rm, du, fsck, ...", DfsCommand,
       {"put", "get", "cat", "tail", "du", "count", "ls", "rm", "mv", "mkdir", "stat", "setrep", "fsck", "datanodes"}},
      {"logs", "datasets and logs", "append-only log archives: append raw log files, archive, list, stat",
       LogsCommand, {"append", "archive", "ls", "stat"}},
      {"dataset", "datasets and logs", "versioned datasets: list, show, promote, rollback, gc, diff, get",
       DatasetCommand, {"list", "show", "promote", "rollback", "gc", "diff", "get"}},
      {"pipeline", "datasets and logs", "derive datasets in dependency order, skipping up-to-date ones",
       PipelineCommand, {"run", "check"}},
      {"bench", "store", "measure the namenode's or the coordinator's costs in this process", BenchCommand, {"namenode", "coordinator"}},
      {"namenode", "daemons", "the store's metadata server", NamenodeCommand, {}},
      {"datanode", "daemons", "a store host's block server", DatanodeCommand, {}},
      {"coordinator", "daemons", "the job scheduler and its web UI", CoordinatorCommand, {}},
      {"worker", "daemons", "a host's task runner", WorkerCommand, {}},
      {"help", "other", "this list, or a command's help (sawmill help COMMAND)", HelpCommand, {}},
      {"completion", "other", "a bash completion script (sawmill completion bash)", CompletionCommand, {"bash"}},
  };
  return *table;
}

const CommandInfo* Find(const std::string& name) {
  for (const auto& c : Table()) {
    if (name == c.name) return &c;
  }
  return nullptr;
}

int HelpCommand(int argc, char** argv) {
  if (argc >= 3 && std::strcmp(argv[2], "--help") != 0 && std::strcmp(argv[2], "-h") != 0) {
    const CommandInfo* c = Find(argv[2]);
    if (c == nullptr) {
      const std::string nearest = NearestCommand(Table(), argv[2]);
      std::fprintf(stderr, "error: unknown command '%s'%s\n", argv[2],
                   nearest.empty() ? "" : ("; did you mean '" + nearest + "'?").c_str());
      return 2;
    }
    if (c->run != HelpCommand) {
      char help[] = "--help";
      char* args[] = {argv[0], argv[2], help, nullptr};
      return c->run(3, args);
    }
  }
  std::fputs(TopLevelHelp(Table()).c_str(), stdout);
  return 0;
}

}  // namespace
}  // namespace sawmill

int main(int argc, char** argv) {
  using namespace sawmill;
  if (argc < 2) {
    std::fputs(TopLevelHelp(Table()).c_str(), stderr);
    return 2;
  }
  if (!std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    std::fputs(TopLevelHelp(Table()).c_str(), stdout);
    return 0;
  }
  // Every daemon is this binary: a malformed SAWMILL_FAULTS stops it at its start, not mid-run.
  if (Status s = fault::ArmFromEnvironment(); !s.ok()) {
    std::fprintf(stderr, "error: %s\n", s.message().c_str());
    return 2;
  }
  if (const CommandInfo* c = Find(argv[1])) return c->run(argc, argv);
  const std::string nearest = NearestCommand(Table(), argv[1]);
  std::fprintf(stderr, "error: unknown command '%s'%s (sawmill --help lists them)\n", argv[1],
               nearest.empty() ? "" : ("; did you mean '" + nearest + "'?").c_str());
  return 2;
}
