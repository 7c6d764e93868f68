// `sawmill bench namenode`: the namenode's per-file costs measured in process against
// NamenodeCore (issue 22): operations per second by kind, memory per file (one block each),
// checkpoint size and write time, and restart time (checkpoint load + journal replay), with a
// check that the namespace comes back the same (NamespaceStore::Dump).
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "cli/args.h"
#include "cli/bench_namenode_rpc.h"
#include "cli/commands.h"
#include "cli/verb_usage.h"
#include "dfs/namenode/namenode_core.h"

namespace sawmill {
namespace {

const CommandUsage& Usage() {
  static const auto* usage = new CommandUsage{
      "bench",
      "sawmill bench: measure a component's costs in this process (docs/scale.md).\n\n",
      {
          {"namenode",
           "  sawmill bench namenode --dir DIR [--files 100000] [--dirs 1000] [--datanodes 3]\n"
           "                         [--replication 3] [--ops create,report,stat,list,rename,delete]\n"
           "                         [--restart true] [--journal-records N]\n"
           "      Opens a new namenode in DIR (it must not exist; a tmpfs such as /dev/shm leaves out the\n"
           "      disk's sync time) with --datanodes fake datanodes, creates --files files of one block\n"
           "      each (--replication replicas, at most --datanodes) spread over --dirs directories\n"
           "      (create + addBlock + complete, each journaled and synced); then each datanode sends a\n"
           "      full block report (block b's replicas on datanodes b % K, (b + 1) % K, ...: with K equal\n"
           "      to the replication, the namenode's own placement); then it stats every file, lists every\n"
           "      directory, renames and deletes a tenth of the files. Prints each operation's rate, the\n"
           "      process's resident memory per file (namespace, blocks and block map) without and with\n"
           "      the replicas reported, the checkpoint's size and write time, and the\n"
           "      restart time (checkpoint load + journal replay), checking that the restarted\n"
           "      namespace dumps the same. Then a background checkpoint (a forked child writes it)\n"
           "      with a thread heartbeating in a loop under the lock the service would hold: its\n"
           "      longest answer. Before the restart, --journal-records more renames are journaled\n"
           "      (default a tenth of --files). DIR is removed at the end.\n",
           {"dir", "files", "dirs", "datanodes", "replication", "ops", "restart", "journal-records"}},
          {"namenode-rpc",
           "  sawmill bench namenode-rpc --cluster D [--files 20000] [--threads 4]\n"
           "      Measures the running namenode of cluster D over the network: --threads client threads,\n"
           "      each with a connection of its own, make a directory each, create and close --files\n"
           "      empty files in all (create + complete, each journaled and synced by the namenode),\n"
           "      stat them, ask their block locations, list the directories, rename and delete them.\n"
           "      Prints each operation's rate. Its files live under /bench-namenode-rpc-<random>,\n"
           "      removed at the end.\n",
           {"cluster", "files", "threads"}},
          {"coordinator",
           "  sawmill bench coordinator [--workers 1000] [--tasks 10000] [--jobs 1] ...\n"
           "      Runs the coordinator service in this process with simulated workers and reports\n"
           "      assignments per second, CPU and memory per task (sawmill bench coordinator --help).\n",
           {}},
      },
      "",
      {},
  };
  return *usage;
}

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Resident bytes of this process after giving freed memory back.
uint64_t ResidentBytes() {
  malloc_trim(0);
  std::ifstream statm("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

uint64_t DirBytes(const std::string& dir, const std::string& prefix) {
  uint64_t total = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().filename().string().rfind(prefix, 0) == 0) total += e.file_size();
  }
  return total;
}

void Rate(const char* what, uint64_t n, double secs) {
  std::printf("  %-28s %10llu in %8.3f s  %10.0f ops/s  %7.2f us/op\n", what, static_cast<unsigned long long>(n), secs,
              n / secs, secs * 1e6 / static_cast<double>(n));
  std::fflush(stdout);
}

std::string FilePath(uint64_t i, uint64_t dirs) {
  return "/bench/d" + std::to_string(i % dirs) + "/f" + std::to_string(i);
}

int Fail(const Status& s) {
  std::fprintf(stderr, "error: %s\n", s.message().c_str());
  return 1;
}

// What a namenode's lock holder costs the others while a checkpoint is written in the background:
// a thread heartbeats every millisecond, each heartbeat under `mu` as the RPC service takes its lock,
// while this thread starts the checkpoint (roll + fork under `mu`) and polls it until it is
// installed. Prints the checkpoint's time, the fork's, and the longest heartbeat answer.
Status BenchBackgroundCheckpoint(dfs::NamenodeCore& core, int64_t clock_ms, double sync_s) {
  std::mutex mu;  // the service's lock
  std::atomic<bool> done{false};
  std::atomic<uint64_t> beats{0};
  double longest = 0;  // written by the heartbeat thread only
  std::thread heartbeats([&] {
    while (!done.load()) {
      const double t = Now();
      {
        std::lock_guard<std::mutex> lock(mu);
        (void)core.Heartbeat("dn0", uint64_t{1} << 60, 0, clock_ms);
      }
      longest = std::max(longest, Now() - t);
      ++beats;
      // A thousand datanodes' worth (one a second each), without taking the child's CPU.
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  while (beats.load() < 10) std::this_thread::yield();
  const uint64_t beats_before = beats.load();
  const double start = Now();
  Status st;
  {
    std::lock_guard<std::mutex> lock(mu);
    st = core.StartCheckpoint();
  }
  const double fork_s = Now() - start;
  bool installed = false;
  while (st.ok() && !installed) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // the service's tick polls every 500 ms
    std::lock_guard<std::mutex> lock(mu);
    auto polled = core.PollCheckpoint(/*wait=*/false);
    if (!polled.ok()) st = polled.status();
    installed = polled.ok() && *polled;
  }
  const double background_s = Now() - start;
  done = true;
  heartbeats.join();
  RETURN_IF_ERROR(st);
  std::printf("background checkpoint: in place after %.3f s (journal roll + fork under the lock: %.4f s); "
              "%llu heartbeats meanwhile, the longest answer %.4f s (the synchronous checkpoint held the lock "
              "%.3f s)\n",
              background_s, fork_s, static_cast<unsigned long long>(beats.load() - beats_before), longest, sync_s);
  std::fflush(stdout);
  return Status::Ok();
}

// Fsck's cost under the lock next to the safe-mode check and the status page's summary.
void BenchFsck(const dfs::NamenodeCore& core) {
  double t = Now();
  const dfs::FsckReport report = core.Fsck();
  const double fsck_s = Now() - t;
  t = Now();
  const size_t missing = core.MissingClosedBlocks();
  const double missing_s = Now() - t;
  t = Now();
  const dfs::FsckCounts counts = core.FsckSummary();
  const double summary_s = Now() - t;
  // What an fsck adds when every block needs naming (a datanode lost with replication 1):
  // one walk building a path per file.
  std::unordered_set<uint64_t> every;
  core.store().ns().ForEachBlock([&](const std::string&, const dfs::BlockInfo& b) { every.insert(b.id); });
  t = Now();
  const size_t named = core.store().ns().PathsOfBlocks(every).size();
  const double paths_s = Now() - t;
  std::printf("fsck: %.3f s for %zu blocks (the fsck request; %zu blocks to name); safe mode's missing-block count "
              "%.3f s (%zu); the status page's summary %.3f s (%zu blocks); naming every block %.3f s (%zu)\n",
              fsck_s, report.total_blocks,
              report.under_replicated.size() + report.missing.size() + report.corrupt.size(), missing_s, missing,
              summary_s, counts.total_blocks, paths_s, named);
  std::fflush(stdout);
}

// Journals `n` renames after the checkpoint, for the restart to replay: files from the third
// tenth on (the first two were renamed and deleted) move to "<path>.j" and back, round by round;
// without such files, directories are made instead.
Status JournalAfterCheckpoint(dfs::NamenodeCore& core, uint64_t n, uint64_t files, uint64_t dirs, bool have_files,
                              int64_t clock_ms) {
  const uint64_t first = 2 * (files / 10), pool = have_files && files > first ? files - first : 0;
  for (uint64_t k = 0; k < n; ++k) {
    if (pool == 0) {
      RETURN_IF_ERROR(core.Mkdirs("/bench/j" + std::to_string(k), clock_ms));
      continue;
    }
    const std::string path = FilePath(first + k % pool, dirs);
    const bool back = (k / pool) % 2 == 1;
    RETURN_IF_ERROR(back ? core.Rename(path + ".j", path, clock_ms) : core.Rename(path, path + ".j", clock_ms));
  }
  return Status::Ok();
}

int BenchNamenode(const Args& args) {
  const std::string dir = args.Get("dir", "");
  uint64_t files = 100000, dirs = 1000;
  int datanodes = 3, replication = 3;
  bool restart = args.Get("restart", "true") != "false";
  if (dir.empty()) {
    std::fprintf(stderr, "error: bench namenode needs --dir DIR\n");
    return 2;
  }
  uint64_t journal_records = 0;
  if (!args.GetU64("files", 100000, &files) || !args.GetU64("journal-records", files / 10, &journal_records) ||
      !args.GetNumber<uint64_t>("dirs", 1000, &dirs, 1) || !args.GetNumber("datanodes", 3, &datanodes, 1, 1000) ||
      !args.GetNumber("replication", 3, &replication, 1, 512)) {
    return 2;
  }
  if (replication > datanodes) {
    std::fprintf(stderr, "error: --replication %d needs at least as many --datanodes (%d)\n", replication, datanodes);
    return 2;
  }
  if (std::filesystem::exists(dir)) {
    std::fprintf(stderr, "error: %s exists; bench namenode wants a new directory (it removes it at the end)\n",
                 dir.c_str());
    return 2;
  }
  const std::string ops = args.Get("ops", "create,report,stat,list,rename,delete");
  auto wants = [&](const char* op) { return ("," + ops + ",").find("," + std::string(op) + ",") != std::string::npos; };
  int64_t clock_ms = 1'800'000'000'000;
  auto core = dfs::NamenodeCore::Open(dir, {});
  if (!core.ok()) return Fail(core.status());
  for (int d = 0; d < datanodes; ++d) {
    Status s = (*core)->RegisterDatanode("dn" + std::to_string(d), "host" + std::to_string(d), uint64_t{1} << 60, 0,
                                         clock_ms);
    if (!s.ok()) return Fail(s);
  }
  const uint64_t empty_rss = ResidentBytes();
  std::printf("sawmill bench namenode: %llu files of one block (replication %d) in %llu directories, %d datanodes, "
              "in %s\n",
              static_cast<unsigned long long>(files), replication, static_cast<unsigned long long>(dirs), datanodes,
              dir.c_str());

  double t = Now();
  for (uint64_t d = 0; d < dirs; ++d) {
    Status s = (*core)->Mkdirs("/bench/d" + std::to_string(d), clock_ms);
    if (!s.ok()) return Fail(s);
  }
  Rate("mkdirs", dirs, Now() - t);
  if (wants("create")) {
    const uint64_t block = 1 << 20;
    t = Now();
    for (uint64_t i = 0; i < files; ++i) {
      const std::string path = FilePath(i, dirs);
      Status s = (*core)->Create(path, "bench", static_cast<uint32_t>(replication), block, clock_ms);
      auto b = s.ok() ? (*core)->AddBlock(path, "bench", "host0", clock_ms) : Result<dfs::LocatedBlock>(s);
      if (b.ok()) s = (*core)->Complete(path, "bench", {block}, clock_ms);
      if (!b.ok() || !s.ok()) return Fail(b.ok() ? s : b.status());
      if (i % 4096 == 4095) {  // placement counts blocks scheduled since a datanode's last heartbeat
        for (int d = 0; d < datanodes; ++d) (void)(*core)->Heartbeat("dn" + std::to_string(d), uint64_t{1} << 60, 0, clock_ms);
      }
      if (files >= 1000000 && i % 1000000 == 999999) {
        std::fprintf(stderr, "  ... %llu files\n", static_cast<unsigned long long>(i + 1));
      }
    }
    Rate("create+addBlock+complete", files, Now() - t);
  }
  const uint64_t full_rss = ResidentBytes();
  const auto counts = (*core)->store().ns().Counts();
  // Every datanode's full block report, as after a namenode restart (and periodically): the
  // block map then holds every replica, as a namenode's in steady state does.
  uint64_t replicas = 0, replica_rss = 0;
  if (wants("report")) {
    std::vector<std::vector<dfs::BlockInfo>> reports(static_cast<size_t>(datanodes));
    (*core)->store().ns().ForEachBlock([&](const std::string&, const dfs::BlockInfo& b) {
      for (int r = 0; r < replication; ++r) reports[(b.id + static_cast<uint64_t>(r)) % reports.size()].push_back(b);
    });
    t = Now();
    for (int d = 0; d < datanodes; ++d) {
      Status s = (*core)->BlockReport("dn" + std::to_string(d), reports[d]);
      if (!s.ok()) return Fail(s);
      replicas += reports[d].size();
      std::vector<dfs::BlockInfo>().swap(reports[d]);
    }
    Rate("block report (per replica)", replicas, Now() - t);
    replica_rss = ResidentBytes();
  }
  if (wants("stat")) {
    t = Now();
    for (uint64_t i = 0; i < files; ++i) {
      if (!(*core)->Stat(FilePath(i, dirs)).ok()) return Fail(NotFound(FilePath(i, dirs)));
    }
    Rate("stat", files, Now() - t);
    t = Now();
    for (uint64_t i = 0; i < files; ++i) {
      if (!(*core)->GetBlockLocations(FilePath(i, dirs)).ok()) return Fail(NotFound(FilePath(i, dirs)));
    }
    Rate("getBlockLocations", files, Now() - t);
  }
  if (wants("list")) {
    t = Now();
    uint64_t listed = 0;
    for (uint64_t d = 0; d < dirs; ++d) {
      auto l = (*core)->List("/bench/d" + std::to_string(d));
      if (!l.ok()) return Fail(l.status());
      listed += l->size();
    }
    Rate("list (a directory)", dirs, Now() - t);
    std::printf("  %-28s %10llu entries listed\n", "", static_cast<unsigned long long>(listed));
  }
  const uint64_t tenth = files / 10;
  if (wants("rename") && tenth > 0) {
    t = Now();
    for (uint64_t i = 0; i < tenth; ++i) {
      Status s = (*core)->Rename(FilePath(i, dirs), FilePath(i, dirs) + ".r", clock_ms);
      if (!s.ok()) return Fail(s);
    }
    Rate("rename", tenth, Now() - t);
  }
  if (wants("delete") && tenth > 0) {
    t = Now();
    for (uint64_t i = tenth; i < 2 * tenth; ++i) {
      Status s = (*core)->Delete(FilePath(i, dirs), false, clock_ms);
      if (!s.ok()) return Fail(s);
    }
    Rate("delete", tenth, Now() - t);
  }

  auto per_file = [&](uint64_t rss) {
    return files ? (static_cast<double>(rss) - static_cast<double>(empty_rss)) / static_cast<double>(files) : 0.0;
  };
  std::printf("memory: resident %.1f MiB at start, %.1f MiB with %zu files and %zu blocks, no replicas reported: "
              "%.0f bytes per file including its block\n",
              empty_rss / 1048576.0, full_rss / 1048576.0, counts.files, counts.blocks, per_file(full_rss));
  if (wants("report")) {
    std::printf("memory: resident %.1f MiB with their %llu replicas reported: %.0f bytes per file including its block "
                "and its %d replicas (HDFS's rule of thumb: ~150 per file + ~150 per block with its replicas = "
                "~300)\n",
                replica_rss / 1048576.0, static_cast<unsigned long long>(replicas), per_file(replica_rss),
                replication);
  }
  const uint64_t journal_bytes = DirBytes(dir, "journal");
  t = Now();
  Status s = (*core)->Checkpoint();
  if (!s.ok()) return Fail(s);
  const double checkpoint_s = Now() - t;
  std::printf("checkpoint: %.1f MiB written in %.3f s (the journal before it: %.1f MiB)\n",
              DirBytes(dir, "checkpoint") / 1048576.0, checkpoint_s, journal_bytes / 1048576.0);
  std::fflush(stdout);
  BenchFsck(**core);
  s = (*core)->Mkdirs("/bench/after-checkpoint", clock_ms);
  if (s.ok()) s = BenchBackgroundCheckpoint(**core, clock_ms, checkpoint_s);
  if (!s.ok()) return Fail(s);
  if (restart) {
    t = Now();
    s = JournalAfterCheckpoint(**core, journal_records, files, dirs, wants("create"), clock_ms);
    if (!s.ok()) return Fail(s);
    Rate("journal after the checkpoint", std::max<uint64_t>(journal_records, 1), Now() - t);
    const std::string before = (*core)->store().Dump();
    const uint64_t last_txid = (*core)->store().last_txid();
    core->reset();
    t = Now();
    auto again = dfs::NamenodeCore::Open(dir, {});
    if (!again.ok()) return Fail(again.status());
    const double restart_s = Now() - t;
    const dfs::RecoveryInfo& rec = (*again)->store().recovery();
    const bool same = (*again)->store().Dump() == before;
    std::printf("restart: %.3f s: checkpoint load %.3f s, replay of %llu journal records %.3f s, block map %.3f s "
                "(last txid %llu); namespace after restart %s\n",
                restart_s, rec.checkpoint_load_s, static_cast<unsigned long long>(rec.replayed), rec.replay_s,
                restart_s - rec.checkpoint_load_s - rec.replay_s, static_cast<unsigned long long>(last_txid),
                same ? "identical (same Dump)" : "DIFFERS");
    std::fflush(stdout);
    if (!same) return 1;
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}

}  // namespace

int BenchCoordinatorCommand(int argc, char** argv);  // cli/bench_coordinator.cc

int BenchCommand(int argc, char** argv) {
  MoveVerbFirst(argc, argv, 2, {});
  if (argc >= 3 && std::string_view(argv[2]) == "coordinator") return BenchCoordinatorCommand(argc, argv);
  const VerbUsage* verb = nullptr;
  if (int code = Usage().Answer(argc, argv, &verb); code != kRunVerb) return code;
  Args args;
  if (!Args::Parse(argc, argv, 3, &args) || !Usage().FlagsOk(args, *verb)) return 2;
  if (std::string_view(verb->verb) == "namenode-rpc") return BenchNamenodeRpc(args);
  return BenchNamenode(args);
}

}  // namespace sawmill
