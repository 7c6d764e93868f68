// `sawmill dfs --cluster D CMD ...`: the file store from the shell (copy files in and out, list,
// move, remove, check health) through the client library, for a cluster described by
// D/cluster.json. Errors are one line "error: ..." naming the path; exit 1, or 2 for usage.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/dfs_tree.h"
#include "common/file.h"
#include "dfs/client/connect_dfs.h"
#include "dfs/client/dfs_client.h"
#include "dfs/path.h"

namespace sawmill {
namespace {

using dfs::DfsClient;

// Copy loops move this much per read: large enough that per-call costs vanish.
constexpr size_t kCopyBytes = 256 << 10;  // stays in the CPU cache between copy and checksum

constexpr char kUsage[] = R"(Usage: sawmill dfs --cluster DIR COMMAND [ARGS...]
  DIR holds cluster.json (written by `sawmill cluster up`). Store paths are /a/b or dfs:/a/b.

Commands:
  put LOCAL PATH [--replication R] [--block_size BYTES]
                      copy a local file or directory tree (- for stdin) into the store; into
                      PATH/NAME if PATH is a directory
  get PATH LOCAL      copy a file or directory tree out of the store (- for stdout); into
                      LOCAL/NAME if LOCAL is a directory
  cat PATH...         print files
  tail [--bytes N] PATH
                      print the last N bytes of a file (default 1024)
  du [--summary|-s] PATH
                      size and replicated size of each entry of a directory (of PATH with -s)
  count PATH          directories, files and bytes under PATH
  ls [--recursive|-R] PATH
                      list: type, replication, size, modification time (UTC), path
  rm [--recursive|-r] PATH
                      remove a file, or a directory (a non-empty one with --recursive)
  mv SRC DST          rename a file or directory (DST must not exist)
  mkdir PATH          create a directory and its missing parents
  stat PATH           a file's attributes and blocks with their replicas
  setrep R PATH       change a file's replication factor (replicas follow in the background)
  fsck [PATH]         block health: totals, then every under-replicated, missing and corrupt block
                      (under PATH); exit 1 when a block is missing
  datanodes           the datanodes the namenode knows
Run `sawmill dfs COMMAND --help` for one command.
)";

const std::map<std::string, std::string>& CommandHelp() {
  static const auto* help = new std::map<std::string, std::string>{
      {"put",
       "Usage: sawmill dfs --cluster DIR put LOCAL PATH [--replication R] [--block_size BYTES]\n"
       "  Copies the file or directory tree LOCAL (- for stdin) to PATH, or to PATH/NAME when PATH\n"
       "  is a directory, as cp -r does. Each file is visible only once complete; an existing file\n"
       "  is never replaced. R and BYTES default to the namenode's settings.\n"},
      {"get",
       "Usage: sawmill dfs --cluster DIR get PATH LOCAL\n"
       "  Copies the file or directory tree PATH to LOCAL (- for stdout, a file only), or to\n"
       "  LOCAL/NAME when LOCAL is a directory, as cp -r does; local files are replaced.\n"},
      {"tail",
       "Usage: sawmill dfs --cluster DIR tail [--bytes N] PATH\n"
       "  Writes the last N bytes (default 1024) of the file PATH to stdout.\n"},
      {"du",
       "Usage: sawmill dfs --cluster DIR du [--summary|-s] PATH\n"
       "  One line per entry of the directory PATH (PATH itself with --summary, or when it is a\n"
       "  file): its size in bytes, the bytes its replicas take on the datanodes, its path.\n"},
      {"count",
       "Usage: sawmill dfs --cluster DIR count PATH\n"
       "  One line: directories (PATH included), files, bytes, PATH.\n"},
      {"cat", "Usage: sawmill dfs --cluster DIR cat PATH...\n  Writes the files to stdout, in order.\n"},
      {"ls",
       "Usage: sawmill dfs --cluster DIR ls [--recursive] PATH\n"
       "  One line per entry: type (d or -), replication, size, modification time (UTC), path.\n"},
      {"rm",
       "Usage: sawmill dfs --cluster DIR rm [--recursive] PATH\n"
       "  Removes a file or an empty directory; a whole tree with --recursive.\n"},
      {"mv", "Usage: sawmill dfs --cluster DIR mv SRC DST\n  Atomic rename; fails when DST exists.\n"},
      {"mkdir", "Usage: sawmill dfs --cluster DIR mkdir PATH\n  Creates PATH and its missing parents.\n"},
      {"stat",
       "Usage: sawmill dfs --cluster DIR stat PATH\n"
       "  Attributes of PATH; for a file also each block with its offset, length and replicas.\n"},
      {"setrep",
       "Usage: sawmill dfs --cluster DIR setrep R PATH\n"
       "  Sets the replication factor of the file PATH; the namenode adds or removes replicas later.\n"},
      {"fsck",
       "Usage: sawmill dfs --cluster DIR fsck [PATH]\n"
       "  Prints the store's totals, then each under-replicated, missing and corrupt block (of files\n"
       "  under PATH, default /). Exit 1 when any block is missing, else 0 (even if under-replicated).\n"},
      {"datanodes",
       "Usage: sawmill dfs --cluster DIR datanodes\n"
       "  id, host, address, state, used and capacity, replicas held, time since the last heartbeat.\n"},
  };
  return *help;
}

int Usage(const std::string& msg) {
  std::fprintf(stderr, "error: %s\n(see sawmill dfs --help)\n", msg.c_str());
  return 2;
}

int Fail(const Status& s) {
  std::fprintf(stderr, "error: %s\n", s.message().c_str());
  return 1;
}

int Fail(const std::string& msg) {
  std::fprintf(stderr, "error: %s\n", msg.c_str());
  return 1;
}

std::string IsoTime(int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}


class Commands {
 public:
  Commands(DfsClient* client, const Args& args) : client_(*client), args_(args), pos_(args.positional) {}

  int Put() {
    if (pos_.size() != 3) return Usage("put needs LOCAL and PATH");
    uint32_t replication = 0;
    uint64_t block_size = 0;
    if (!args_.GetNumber<uint32_t>("replication", 0, &replication, 0, 512) || !args_.GetU64("block_size", 0, &block_size)) {
      return 2;
    }
    const std::string& local = pos_[1];
    std::string path = dfs::StripDfsScheme(pos_[2]);
    auto put = [&](int fd, const std::string& name, const std::string& to) {
      return PutFrom(fd, name, to, replication, block_size);
    };
    if (local != "-") {
      Status s = PutTree(client_, local, path, put);
      return s.ok() ? 0 : Fail(s);
    }
    auto st = client_.StatFull(path);
    if (st.ok() && st->is_dir) return Fail(path + ": is a directory (name the file to write from stdin)");
    Status s = put(0, "stdin", path);
    return s.ok() ? 0 : Fail(s);
  }

  int Get() {
    if (pos_.size() != 3) return Usage("get needs PATH and LOCAL");
    const std::string path = dfs::StripDfsScheme(pos_[1]);
    if (pos_[2] == "-") {
      Status s = CopyOut(client_, path, 1, "stdout");
      return s.ok() ? 0 : Fail(s);
    }
    Status s = GetTree(client_, path, pos_[2]);
    return s.ok() ? 0 : Fail(s);
  }

  int Cat() {
    if (pos_.size() < 2) return Usage("cat needs at least one PATH");
    for (size_t i = 1; i < pos_.size(); ++i) {
      Status s = CopyOut(client_, dfs::StripDfsScheme(pos_[i]), 1, "stdout");
      if (!s.ok()) return Fail(s);
    }
    return 0;
  }

  int Tail() {
    if (pos_.size() != 2) return Usage("tail needs one PATH");
    uint64_t bytes = 0;
    if (!args_.GetU64("bytes", 1024, &bytes)) return 2;
    auto file = client_.OpenRead(dfs::StripDfsScheme(pos_[1]));
    if (!file.ok()) return Fail(file.status());
    const uint64_t size = (*file)->size(), from = size > bytes ? size - bytes : 0;
    std::string buf(static_cast<size_t>(size - from), '\0');
    Status s = (*file)->ReadAt(from, buf.size(), buf.data());
    if (s.ok()) s = WriteAll(1, buf.data(), buf.size(), "stdout");
    return s.ok() ? 0 : Fail(s);
  }

  int Du() {
    if (pos_.size() != 2) return Usage("du needs one PATH");
    auto st = client_.StatFull(pos_[1]);
    if (!st.ok()) return Fail(st.status());
    std::vector<dfs::DfsFileStatus> rows{*st};
    if (st->is_dir && !args_.Has("summary")) {
      auto entries = Children(client_, st->path);
      if (!entries.ok()) return Fail(entries.status());
      rows = std::move(entries).value();
    }
    for (const auto& row : rows) {
      auto t = Totals(client_, row);
      if (!t.ok()) return Fail(t.status());
      std::printf("%-12llu %-12llu %s\n", static_cast<unsigned long long>(t->bytes),
                  static_cast<unsigned long long>(t->space), row.path.c_str());
    }
    return 0;
  }

  int Count() {
    if (pos_.size() != 2) return Usage("count needs one PATH");
    auto st = client_.StatFull(pos_[1]);
    if (!st.ok()) return Fail(st.status());
    auto t = Totals(client_, *st);
    if (!t.ok()) return Fail(t.status());
    std::printf("%12llu %12llu %16llu %s\n", static_cast<unsigned long long>(t->dirs),
                static_cast<unsigned long long>(t->files), static_cast<unsigned long long>(t->bytes),
                st->path.c_str());
    return 0;
  }

  int Ls() {
    if (pos_.size() != 2) return Usage("ls needs one PATH");
    auto st = client_.StatFull(pos_[1]);
    if (!st.ok()) return Fail(st.status());
    if (!st->is_dir) {
      PrintEntry(*st);
      return 0;
    }
    Status s = ListDir(st->path, args_.Has("recursive"));
    return s.ok() ? 0 : Fail(s);
  }

  int Rm() {
    if (pos_.size() != 2) return Usage("rm needs one PATH");
    Status s = client_.Delete(pos_[1], args_.Has("recursive"));
    return s.ok() ? 0 : Fail(s);
  }

  int Mv() {
    if (pos_.size() != 3) return Usage("mv needs SRC and DST");
    Status s = client_.Rename(pos_[1], pos_[2]);
    return s.ok() ? 0 : Fail(s);
  }

  int Mkdir() {
    if (pos_.size() != 2) return Usage("mkdir needs one PATH");
    Status s = client_.Mkdirs(pos_[1]);
    return s.ok() ? 0 : Fail(s);
  }

  int Stat() {
    if (pos_.size() != 2) return Usage("stat needs one PATH");
    auto st = client_.StatFull(pos_[1]);
    if (!st.ok()) return Fail(st.status());
    std::printf("path: %s\ntype: %s\nmtime: %s\n", st->path.c_str(), st->is_dir ? "directory" : "file",
                IsoTime(st->mtime_ms).c_str());
    if (st->is_dir) return 0;
    std::printf("size: %llu\nreplication: %u\nblock_size: %llu\n", static_cast<unsigned long long>(st->size),
                st->replication, static_cast<unsigned long long>(st->block_size));
    auto located = client_.Locate(st->path);
    if (!located.ok()) return Fail(located.status());
    std::printf("blocks: %zu\n", located->second.size());
    for (const auto& b : located->second) {
      std::printf("  block %llu generation %llu offset %llu length %llu replicas:",
                  static_cast<unsigned long long>(b.block.id), static_cast<unsigned long long>(b.block.generation),
                  static_cast<unsigned long long>(b.offset), static_cast<unsigned long long>(b.block.length));
      if (b.datanodes.empty()) std::printf(" none (missing)");
      for (const auto& d : b.datanodes) std::printf(" %s(%s %s)", d.id.c_str(), d.host.c_str(), d.address.c_str());
      std::printf("\n");
    }
    return 0;
  }

  int SetRep() {
    if (pos_.size() != 3) return Usage("setrep needs R and PATH");
    auto r = ParseNumber<uint32_t>(pos_[1], "setrep: R", 1, 512);
    if (!r.ok()) return Usage(r.status().message());
    Status s = client_.SetReplication(pos_[2], *r);
    return s.ok() ? 0 : Fail(s);
  }

  int Fsck() {
    if (pos_.size() > 2) return Usage("fsck takes at most one PATH");
    auto under_path = dfs::NormalizePath(pos_.size() == 2 ? dfs::StripDfsScheme(pos_[1]) : "/");
    if (!under_path.ok()) return Fail(under_path.status());
    auto report = client_.Fsck();
    if (!report.ok()) return Fail(report.status());
    auto keep = [&](const std::vector<dfs::DfsFsckEntry>& all) {
      std::vector<dfs::DfsFsckEntry> out;
      for (const auto& e : all) {
        if (dfs::IsAncestor(*under_path, e.path)) out.push_back(e);
      }
      return out;
    };
    auto under = keep(report->under_replicated), missing = keep(report->missing), corrupt = keep(report->corrupt);
    std::printf("blocks: %llu (whole store; %llu more in files being written, not checked)\n",
                static_cast<unsigned long long>(report->total_blocks),
                static_cast<unsigned long long>(report->open_blocks));
    std::printf("datanodes: %u live, %u dead\n", report->live_datanodes, report->dead_datanodes);
    std::printf("under %s: %zu under-replicated, %zu missing, %zu corrupt replicas\n", under_path->c_str(),
                under.size(), missing.size(), corrupt.size());
    for (const auto& e : under) {
      std::printf("under-replicated block %llu %s\n", static_cast<unsigned long long>(e.block_id), e.path.c_str());
    }
    for (const auto& e : missing) {
      std::printf("missing block %llu %s\n", static_cast<unsigned long long>(e.block_id), e.path.c_str());
    }
    for (const auto& e : corrupt) {
      std::printf("corrupt block %llu %s on %s\n", static_cast<unsigned long long>(e.block_id), e.path.c_str(),
                  e.datanode.c_str());
    }
    const char* state = !missing.empty() ? "MISSING BLOCKS"
                        : (!under.empty() || !corrupt.empty()) ? "HEALTHY (replication in progress)"
                                                               : "HEALTHY";
    std::printf("status: %s\n", state);
    return missing.empty() ? 0 : 1;
  }

  int Datanodes() {
    if (pos_.size() != 1) return Usage("datanodes takes no arguments");
    auto dns = client_.Datanodes();
    if (!dns.ok()) return Fail(dns.status());
    const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    std::printf("%-14s %-12s %-21s %-5s %10s %10s %8s %s\n", "ID", "HOST", "ADDRESS", "STATE", "USED_MB",
                "CAPACITY_MB", "REPLICAS", "LAST_HEARTBEAT");
    for (const auto& d : *dns) {
      // Ages only for wall-clock stamps; a namenode on a monotonic clock sends other values.
      std::string age = "-";
      if (d.last_heartbeat_ms > 1'000'000'000'000 && d.last_heartbeat_ms <= now + 60'000) {
        age = std::to_string(std::max<int64_t>(0, now - d.last_heartbeat_ms) / 1000) + "s ago";
      }
      std::printf("%-14s %-12s %-21s %-5s %10llu %10llu %8llu %s\n", d.id.c_str(), d.host.c_str(), d.address.c_str(),
                  d.live ? "live" : "dead", static_cast<unsigned long long>(d.used_bytes >> 20),
                  static_cast<unsigned long long>(d.capacity_bytes >> 20), static_cast<unsigned long long>(d.blocks),
                  age.c_str());
    }
    return 0;
  }

 private:
  Status PutFrom(int fd, const std::string& name, const std::string& path, uint32_t replication,
                 uint64_t block_size) {
    ASSIGN_OR_RETURN(auto file, client_.Create(path, replication, block_size));
    struct stat st;
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
      // Straight from the page cache to the datanode's socket: no copy through this process.
      off_t start = ::lseek(fd, 0, SEEK_CUR);
      if (start < 0) return ErrnoError("seek", name, errno);
      if (st.st_size > start) {
        RETURN_IF_ERROR(file->AppendFileRange(fd, static_cast<uint64_t>(start), static_cast<uint64_t>(st.st_size - start))
                            .WithContext("putting " + name));
      }
      return file->Close();
    }
    std::unique_ptr<char[]> buf(new char[kCopyBytes]);
    for (;;) {
      ssize_t n = ::read(fd, buf.get(), kCopyBytes);
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoError("read", name, errno);  // the unclosed file is removed
      }
      if (n == 0) break;
      RETURN_IF_ERROR(file->Append(std::string_view(buf.get(), static_cast<size_t>(n))));
    }
    return file->Close();
  }

  void PrintEntry(const dfs::DfsFileStatus& s) {
    std::printf("%s %3u %12llu %s %s\n", s.is_dir ? "d" : "-", s.is_dir ? 0 : s.replication,
                static_cast<unsigned long long>(s.size), IsoTime(s.mtime_ms).c_str(), s.path.c_str());
  }

  Status ListDir(const std::string& dir, bool recursive) {
    ASSIGN_OR_RETURN(auto entries, Children(client_, dir));
    for (const auto& e : entries) {
      PrintEntry(e);
      if (recursive && e.is_dir) RETURN_IF_ERROR(ListDir(e.path, true));
    }
    return Status::Ok();
  }

  DfsClient& client_;
  const Args& args_;
  const std::vector<std::string>& pos_;
};

struct CommandSpec {
  int (Commands::*run)();
  std::vector<const char*> flags;  // besides --cluster and --help
};

}  // namespace

int DfsCommand(int argc, char** argv) {
  Args args;
  if (!Args::Parse(argc, argv, 2, &args, {"recursive", "summary"})) return 2;
  static const std::map<std::string, CommandSpec> kCommands = {
      {"put", {&Commands::Put, {"replication", "block_size"}}},
      {"get", {&Commands::Get, {}}},
      {"cat", {&Commands::Cat, {}}},
      {"tail", {&Commands::Tail, {"bytes"}}},
      {"du", {&Commands::Du, {"summary"}}},
      {"count", {&Commands::Count, {}}},
      {"ls", {&Commands::Ls, {"recursive"}}},
      {"rm", {&Commands::Rm, {"recursive"}}},
      {"mv", {&Commands::Mv, {}}},
      {"mkdir", {&Commands::Mkdir, {}}},
      {"stat", {&Commands::Stat, {}}},
      {"setrep", {&Commands::SetRep, {}}},
      {"fsck", {&Commands::Fsck, {}}},
      {"datanodes", {&Commands::Datanodes, {}}},
  };
  if (args.positional.empty()) {
    if (args.Has("help")) {
      std::fputs(kUsage, stdout);
      return 0;
    }
    std::fputs(kUsage, stderr);
    return 2;
  }
  const std::string cmd = args.positional[0];
  // -R / -r, as in other file tools, mean --recursive; du's -s means --summary.
  for (auto p = args.positional.begin() + 1; p != args.positional.end();) {
    if ((cmd == "ls" || cmd == "rm") && (*p == "-R" || *p == "-r")) {
      args.flags["recursive"] = "true";
      p = args.positional.erase(p);
    } else if (cmd == "du" && *p == "-s") {
      args.flags["summary"] = "true";
      p = args.positional.erase(p);
    } else {
      ++p;
    }
  }
  auto it = kCommands.find(cmd);
  if (it == kCommands.end()) return Usage("unknown dfs command '" + cmd + "'");
  if (args.Has("help")) {
    std::fputs(CommandHelp().at(cmd).c_str(), stdout);
    return 0;
  }
  for (const auto& [flag, value] : args.flags) {
    bool ok = flag == "cluster";
    for (const char* f : it->second.flags) ok |= flag == f;
    if (!ok) return Usage("unknown flag --" + flag + " for dfs " + cmd);
  }
  if (args.Get("cluster", "").empty()) return Usage("--cluster DIR is required");
  auto conn = dfs::ConnectDfs(args.Get("cluster", ""));
  if (!conn.ok()) return Fail(conn.status());
  Commands commands((*conn)->client.get(), args);
  return (commands.*(it->second.run))();
}

}  // namespace sawmill
