// The durable namespace: a Namespace whose every mutation is first appended to a write-ahead
// journal, and which periodically writes a checkpoint and starts a new journal.
//
// Directory layout: checkpoint.<txid> (the namespace as of txid; the newest two are kept) and
// journal.<first txid> (records first txid, first txid + 1, ...). Numbers are 20-digit decimals.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/journal.h"
#include "dfs/namenode/namespace.h"

namespace sawmill::dfs {

// What Open found, for the namenode to log.
struct RecoveryInfo {
  std::string checkpoint;                       // the image loaded ("" when starting empty)
  uint64_t checkpoint_txid = 0;
  std::vector<std::string> bad_checkpoints;     // corrupt images skipped, with the reason
  uint64_t replayed = 0;                        // journal records applied
  double checkpoint_load_s = 0;                 // reading and decoding the image, building the tree
  double replay_s = 0;                          // reading and applying the journals
  uint64_t dropped_bytes = 0;                   // torn or corrupt journal tails, all files
  std::vector<std::string> drop_reasons;
};

class NamespaceStore {
 public:
  // Loads the newest readable checkpoint in `dir` (created if missing), replays the journal
  // records after it, and cuts a torn tail off the last journal so that appends continue there.
  static Result<std::unique_ptr<NamespaceStore>> Open(const std::string& dir);
  ~NamespaceStore();

  // Mutations take client paths (normalized here). Each is journaled and synced before it
  // changes the namespace (with group commit: journaled, applied, and synced by WaitDurable);
  // a failed one changes neither. After a journal write error (a full
  // disk) the store is read-only: every mutation fails with an IOError "namenode journal
  // unwritable: <the write error>; the namespace is read-only until the namenode is restarted"
  // (the journal's tail is unknown until the next Open); reads go on.
  Status Mkdirs(std::string_view path, int64_t mtime);
  Status Create(std::string_view path, const std::string& client, uint32_t replication, uint64_t block_size,
                int64_t mtime);
  // Allocates the next block id; its generation stamp is the transaction id.
  Result<BlockInfo> AddBlock(std::string_view path, const std::string& client);
  Status Complete(std::string_view path, const std::string& client, const std::vector<uint64_t>& block_lengths,
                  int64_t mtime);
  // Drops the file's last block, which must be `block_id`; puts it into `freed` (when given).
  Status AbandonBlock(std::string_view path, const std::string& client, uint64_t block_id,
                      BlockInfo* freed = nullptr);
  // Delete and Abandon put the blocks they freed into `freed` (when given) on success.
  Status Abandon(std::string_view path, std::vector<BlockInfo>* freed = nullptr);
  Status Rename(std::string_view src, std::string_view dst, int64_t mtime);
  Status Delete(std::string_view path, bool recursive, int64_t mtime, std::vector<BlockInfo>* freed = nullptr);
  Status SetReplication(std::string_view path, uint32_t replication);

  // Writes checkpoint.<last txid>, starts journal.<last txid + 1>, and removes files no longer
  // needed to recover from the older of the two kept checkpoints. Synchronous: the caller
  // waits for the whole image (shutdown, tests). Waits first for a background checkpoint in
  // flight, and writes nothing more if that one covered the last txid.
  Status Checkpoint();

  // The background checkpoint (Redis's BGSAVE): starts journal.<last txid + 1>, then fork()s a
  // child that writes checkpoint.<last txid>.tmp from its copy-on-write image of the namespace,
  // fsyncs it and exits; returns as soon as the child runs (the cost of fork: page tables).
  // Mutations go on meanwhile, into the new journal. PollCheckpoint installs the image. One at
  // a time: kAlreadyExists while one is in flight. The child is killed if the thread that called
  // this exits before it is reaped (PR_SET_PDEATHSIG, so that it dies with the namenode): call
  // it from a thread that outlives the checkpoint, or reap it first. A child that fails or is killed leaves
  // the older checkpoint and the journals since it, which Open replays across the roll.
  Status StartCheckpoint();
  // Reaps the background checkpoint's child once it has exited (with `wait`, waits for it):
  // then renames its image into place, fsyncs the directory and removes obsolete files, and
  // returns true; or removes its temp file and fails with the child's error (an IOError naming
  // its exit status or signal). False, doing nothing, while it runs or when none is in flight.
  Result<bool> PollCheckpoint(bool wait);
  bool checkpoint_in_flight() const { return child_pid_ > 0; }
  // The background checkpoint's child process (0: none), for tests that kill it.
  pid_t checkpoint_pid() const { return child_pid_; }
  // Tests: runs in the child before it writes anything (to hold it there and kill it).
  void SetCheckpointChildHookForTest(std::function<void()> hook) { child_hook_ = std::move(hook); }

  // Group commit (what the namenode service turns on): a mutation is journaled and applied at
  // once, and made durable by WaitDurable, which the service calls after releasing its lock
  // and before it answers, so that callers waiting together share one fdatasync. A full disk
  // still fails the mutation itself, unapplied (the journal's space is reserved as the record
  // is buffered). Off (the default): each mutation is synced before it is applied.
  void set_group_commit(bool on) { group_commit_ = on; }
  // Returns once the journal holds every record up to `txid` durably, writing and syncing the
  // records buffered so far itself unless another caller is doing so; thread-safe, called
  // without the lock that orders the mutations. After a failed sync the records applied since
  // the last durable one may be lost on a restart: this and every later mutation then fail
  // ("namenode journal unwritable: ...; restart the namenode").
  Status WaitDurable(uint64_t txid);
  // Journal syncs so far (fdatasyncs of record batches), for tests and benchmarks.
  uint64_t syncs() const {
    std::lock_guard<std::mutex> lock(sync_mu_);
    return syncs_;
  }

  const Namespace& ns() const { return ns_; }
  uint64_t last_txid() const { return last_txid_; }
  // Ok, or why the store is read-only (the error every mutation fails with).
  const Status& read_only() const { return broken_; }
  const RecoveryInfo& recovery() const { return recovery_; }
  // Namespace::Dump plus the last txid.
  std::string Dump() const;

 private:
  explicit NamespaceStore(std::string dir) : dir_(std::move(dir)) {}
  Status Recover();
  // Builds a record with `fill`, checks it, journals it, applies it.
  template <typename Fill>
  Status Commit(Fill fill);
  std::string CheckpointPath(uint64_t txid) const;
  std::string JournalPath(uint64_t first_txid) const;
  Status StartJournal(uint64_t first_txid);
  // Makes every record up to `txid` durable (group commit's leader or follower); the raw error.
  Status SyncTo(uint64_t txid);
  // The store goes read-only after `st` failed a mutation before it was applied.
  Status Broken(const Status& st);
  // Set once a sync failed after its records were applied (group commit).
  Status AppliedButNotDurable();
  Status RemoveObsoleteFiles();
  // The child's side of StartCheckpoint; never returns.
  [[noreturn]] void RunCheckpointChild(const std::string& tmp, uint64_t txid, int error_fd);

  std::string dir_;
  Namespace ns_;
  uint64_t last_txid_ = 0;
  std::unique_ptr<JournalWriter> journal_;
  uint64_t journal_first_txid_ = 0;
  Status broken_;
  bool group_commit_ = false;
  // Between the appends (ordered by the caller's lock) and the thread writing a batch.
  std::mutex journal_mu_;
  uint64_t appended_txid_ = 0;  // of the last record buffered in journal_
  mutable std::mutex sync_mu_;  // guards the five below
  std::condition_variable synced_cv_;
  uint64_t durable_txid_ = 0;
  bool syncing_ = false;  // a thread is writing a batch
  Status sync_failed_;
  uint64_t syncs_ = 0;
  RecoveryInfo recovery_;
  // The background checkpoint in flight (child_pid_ > 0): its child, the txid it writes, and the
  // read end of a pipe on which the child leaves its error message.
  pid_t child_pid_ = 0;
  uint64_t child_txid_ = 0;
  int child_error_fd_ = -1;
  std::function<void()> child_hook_;
};

}  // namespace sawmill::dfs
