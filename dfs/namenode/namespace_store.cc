// NamespaceStore: recovery (checkpoint + journal replay), write-ahead mutations, checkpointing.
#include "dfs/namenode/namespace_store.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <glog/logging.h>

#include "common/fault_point.h"
#include "common/file.h"
#include "dfs/namenode/checkpoint.h"
#include "dfs/namenode/namespace.capnp.h"
#include "dfs/path.h"

namespace sawmill::dfs {

namespace {

using Mode = Namespace::Mode;
constexpr char kCheckpointPrefix[] = "checkpoint.";
constexpr char kJournalPrefix[] = "journal.";

std::string Numbered(std::string_view prefix, uint64_t n) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%020" PRIu64, n);
  return std::string(prefix) + buf;
}

// "journal.00000000000000000042" -> 42; false for anything else (temp files included).
bool ParseNumbered(const std::string& name, std::string_view prefix, uint64_t* n) {
  if (name.size() != prefix.size() + 20 || name.compare(0, prefix.size(), prefix) != 0) return false;
  *n = 0;
  for (size_t i = prefix.size(); i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
    *n = *n * 10 + (name[i] - '0');
  }
  return true;
}

// Applies one journal record to `ns`. Paths in records are normalized when journaled.
Status Apply(schema::JournalRecord::Reader r, Namespace& ns, Mode mode) {
  using R = schema::JournalRecord;
  switch (r.which()) {
    case R::MKDIRS: {
      auto m = r.getMkdirs();
      return ns.Mkdirs(m.getPath(), m.getMtime(), mode);
    }
    case R::CREATE: {
      auto c = r.getCreate();
      return ns.Create(c.getPath(), c.getClientName(), c.getReplication(), c.getBlockSize(), c.getMtime(), mode);
    }
    case R::ADD_BLOCK: {
      auto a = r.getAddBlock();
      return ns.AddBlock(a.getPath(), a.getClientName(), a.getBlockId(), a.getGeneration(), mode);
    }
    case R::COMPLETE: {
      auto c = r.getComplete();
      std::vector<uint64_t> lengths;
      for (uint64_t len : c.getBlockLengths()) lengths.push_back(len);
      return ns.Complete(c.getPath(), c.getClientName(), lengths, c.getMtime(), mode);
    }
    case R::ABANDON:
      return ns.Abandon(r.getAbandon().getPath(), mode);
    case R::ABANDON_BLOCK: {
      auto a = r.getAbandonBlock();
      return ns.AbandonBlock(a.getPath(), a.getClientName(), a.getBlockId(), mode);
    }
    case R::RENAME: {
      auto m = r.getRename();
      return ns.Rename(m.getSrc(), m.getDst(), m.getMtime(), mode);
    }
    case R::DELETE: {
      auto d = r.getDelete();
      return ns.Delete(d.getPath(), d.getRecursive(), d.getMtime(), mode);
    }
    case R::SET_REPLICATION: {
      auto s = r.getSetReplication();
      return ns.SetReplication(s.getPath(), s.getReplication(), mode);
    }
  }
  return Corruption("unknown journal record kind " + std::to_string(static_cast<int>(r.which())));
}

// The txids in the names of a metadata directory's files: checkpoints newest first, journals
// oldest first.
struct MetadataFiles {
  std::vector<uint64_t> checkpoints, journals;
};

Result<MetadataFiles> ListMetadataFiles(const std::string& dir) {
  ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(dir));
  MetadataFiles files;
  for (const std::string& name : names) {
    uint64_t n;
    if (ParseNumbered(name, kCheckpointPrefix, &n)) files.checkpoints.push_back(n);
    if (ParseNumbered(name, kJournalPrefix, &n)) files.journals.push_back(n);
  }
  std::sort(files.checkpoints.rbegin(), files.checkpoints.rend());
  std::sort(files.journals.begin(), files.journals.end());
  return files;
}

}  // namespace

NamespaceStore::~NamespaceStore() {
  if (!checkpoint_in_flight()) return;
  auto done = PollCheckpoint(/*wait=*/true);
  if (!done.ok()) LOG(WARNING) << "background checkpoint: " << done.status().ToString();
}

std::string NamespaceStore::CheckpointPath(uint64_t txid) const { return JoinPath(dir_, Numbered(kCheckpointPrefix, txid)); }
std::string NamespaceStore::JournalPath(uint64_t first) const { return JoinPath(dir_, Numbered(kJournalPrefix, first)); }

Result<std::unique_ptr<NamespaceStore>> NamespaceStore::Open(const std::string& dir) {
  RETURN_IF_ERROR(MakeDirs(dir));
  std::unique_ptr<NamespaceStore> store(new NamespaceStore(dir));
  RETURN_IF_ERROR(store->Recover());
  return store;
}

Status NamespaceStore::Recover() {
  // Images a crash or a killed checkpoint child left half written.
  ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(dir_));
  for (const std::string& name : names) {
    if (name.starts_with(kCheckpointPrefix) && name.ends_with(".tmp")) {
      RETURN_IF_ERROR(RemoveAll(JoinPath(dir_, name)));
    }
  }
  ASSIGN_OR_RETURN(MetadataFiles files, ListMetadataFiles(dir_));
  std::vector<uint64_t>& checkpoints = files.checkpoints;
  std::vector<uint64_t>& journals = files.journals;

  auto seconds = [] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  };
  double t = seconds();
  // The newest image that reads back; a torn one falls back to the one before it.
  for (uint64_t txid : checkpoints) {
    auto loaded = ReadCheckpoint(CheckpointPath(txid));
    if (!loaded.ok()) {
      if (loaded.status().code() != StatusCode::kCorruption) return loaded.status();
      recovery_.bad_checkpoints.push_back(loaded.status().message());
      continue;
    }
    ns_ = std::move(loaded->ns);
    last_txid_ = loaded->last_txid;
    recovery_.checkpoint = CheckpointPath(txid);
    recovery_.checkpoint_txid = last_txid_;
    break;
  }
  if (recovery_.checkpoint.empty() && !checkpoints.empty() && (journals.empty() || journals[0] != 1)) {
    return Corruption(dir_ + ": no readable checkpoint and no journal from transaction 1");
  }
  recovery_.checkpoint_load_s = seconds() - t;
  t = seconds();

  for (size_t i = 0; i < journals.size(); ++i) {
    bool last = i + 1 == journals.size();
    // Entirely covered by the checkpoint: the next journal starts at or before it ends.
    if (!last && journals[i + 1] <= last_txid_ + 1) continue;
    std::string path = JournalPath(journals[i]);
    if (journals[i] > last_txid_ + 1) {
      return Corruption(path + ": starts at transaction " + std::to_string(journals[i]) + " but the namespace is at " +
                        std::to_string(last_txid_) + ": transactions are missing");
    }
    uint64_t expected = journals[i];
    auto read = ReadJournal(path, [&](std::string_view payload) -> Status {
      if (payload.size() % sizeof(capnp::word) != 0) return Corruption(path + ": record is not a capnp message");
      kj::Array<capnp::word> words = kj::heapArray<capnp::word>(payload.size() / sizeof(capnp::word));
      std::memcpy(words.begin(), payload.data(), payload.size());
      Status st;
      kj::Maybe<kj::Exception> error = kj::runCatchingExceptions([&] {
        capnp::FlatArrayMessageReader reader(words);
        auto record = reader.getRoot<schema::JournalRecord>();
        uint64_t txid = record.getTxid();
        if (txid != expected) {
          st = Corruption(path + ": transaction " + std::to_string(txid) + " where " + std::to_string(expected) +
                          " was expected");
          return;
        }
        ++expected;
        if (txid <= last_txid_) return;  // already in the checkpoint
        st = Apply(record, ns_, Mode::kApply);
        if (!st.ok()) {
          st = Corruption(path + ": transaction " + std::to_string(txid) + " does not replay: " + st.ToString());
          return;
        }
        last_txid_ = txid;
        ++recovery_.replayed;
      });
      KJ_IF_MAYBE(e, error) {
        return Corruption(path + ": cannot parse journal record: " + std::string(e->getDescription().cStr()));
      }
      return st;
    }, /*truncate=*/last);
    if (!read.ok()) return read.status();
    if (read->dropped_bytes > 0) {
      recovery_.dropped_bytes += read->dropped_bytes;
      recovery_.drop_reasons.push_back(read->drop_reason + " (" + std::to_string(read->dropped_bytes) +
                                       " bytes dropped)");
      LOG(WARNING) << read->drop_reason << ": dropped " << read->dropped_bytes << " bytes";
    }
  }
  recovery_.replay_s = seconds() - t;
  appended_txid_ = durable_txid_ = last_txid_;
  // Continue the last journal if it is the one that ends at last_txid_, else start a new one.
  if (!journals.empty() && journals.back() <= last_txid_ + 1) {
    ASSIGN_OR_RETURN(journal_, JournalWriter::Open(JournalPath(journals.back())));
    journal_first_txid_ = journals.back();
    return Status::Ok();
  }
  return StartJournal(last_txid_ + 1);
}

Status NamespaceStore::StartJournal(uint64_t first_txid) {
  // The old journal's buffered records first. With the caller's lock held no record is added,
  // so once they are durable no thread writes to the old journal any more.
  RETURN_IF_ERROR(SyncTo(last_txid_));
  std::string path = JournalPath(first_txid);
  RETURN_IF_ERROR(RemoveAll(path));  // a stale file of that name holds nothing we still need
  ASSIGN_OR_RETURN(auto journal, JournalWriter::Open(path));
  {
    std::lock_guard<std::mutex> lock(journal_mu_);
    journal_ = std::move(journal);
  }
  journal_first_txid_ = first_txid;
  return SyncDirectory(dir_);
}

Status NamespaceStore::SyncTo(uint64_t txid) {
  std::unique_lock<std::mutex> lock(sync_mu_);
  while (durable_txid_ < txid) {
    if (!sync_failed_.ok()) return sync_failed_;
    if (syncing_) {
      synced_cv_.wait(lock);
      continue;
    }
    // Leader: everything buffered so far goes in one write and one fdatasync.
    syncing_ = true;
    JournalWriter::Batch batch;
    uint64_t upto;
    JournalWriter* journal;
    {
      std::lock_guard<std::mutex> j(journal_mu_);
      batch = journal_->TakePending();
      upto = appended_txid_;
      journal = journal_.get();
    }
    lock.unlock();
    Status st = FaultPoint("namenode.journal.sync", upto);  // written, not yet synced
    if (st.ok()) st = journal->WriteDurably(batch);
    lock.lock();
    syncing_ = false;
    ++syncs_;
    if (st.ok()) {
      durable_txid_ = std::max(durable_txid_, upto);
    } else {
      sync_failed_ = st;
    }
    synced_cv_.notify_all();
  }
  return Status::Ok();
}

Status NamespaceStore::Broken(const Status& st) {
  // The record is in no file yet (it went to space that was allocated already, or nowhere), and
  // not applied: the namespace is as durable as it was.
  broken_ = IOError("namenode journal unwritable: " + st.message() +
                    "; the namespace is read-only until the namenode is restarted" +
                    (IsNoSpace(st) ? " with room on its disk" : ""));
  LOG(ERROR) << broken_.message();
  return broken_;
}

Status NamespaceStore::AppliedButNotDurable() {
  std::lock_guard<std::mutex> lock(sync_mu_);
  if (sync_failed_.ok()) return Status::Ok();
  return IOError("namenode journal unwritable: " + sync_failed_.message() + "; mutations after transaction " +
                 std::to_string(durable_txid_) + " were applied but may not be durable: restart the namenode");
}

Status NamespaceStore::WaitDurable(uint64_t txid) {
  if (SyncTo(txid).ok()) return Status::Ok();
  Status st = AppliedButNotDurable();
  LOG(ERROR) << st.message();
  return st;
}

template <typename Fill>
Status NamespaceStore::Commit(Fill fill) {
  if (!broken_.ok()) return broken_;
  if (group_commit_) RETURN_IF_ERROR(AppliedButNotDurable());
  capnp::MallocMessageBuilder message;
  auto record = message.initRoot<schema::JournalRecord>();
  record.setTxid(last_txid_ + 1);
  fill(record);
  RETURN_IF_ERROR(Apply(record.asReader(), ns_, Mode::kCheck));
  kj::Array<capnp::word> words = capnp::messageToFlatArray(message);
  {
    std::lock_guard<std::mutex> lock(journal_mu_);
    Status st = journal_->AppendReserved(std::string_view(words.asChars().begin(), words.asChars().size()));
    if (!st.ok()) return Broken(st);
    appended_txid_ = last_txid_ + 1;
  }
  if (!group_commit_) {
    if (Status st = SyncTo(last_txid_ + 1); !st.ok()) return Broken(st);
  }
  Status applied = Apply(record.asReader(), ns_, Mode::kApply);
  CHECK(applied.ok()) << "checked mutation failed: " << applied.ToString();
  ++last_txid_;
  return Status::Ok();
}

Status NamespaceStore::Mkdirs(std::string_view path, int64_t mtime) {
  ASSIGN_OR_RETURN(std::string p, NormalizePath(path));
  return Commit([&](auto r) {
    auto m = r.initMkdirs();
    m.setPath(p);
    m.setMtime(mtime);
  });
}

Status NamespaceStore::Create(std::string_view path, const std::string& client, uint32_t replication,
                              uint64_t block_size, int64_t mtime) {
  ASSIGN_OR_RETURN(std::string p, NormalizePath(path));
  return Commit([&](auto r) {
    auto c = r.initCreate();
    c.setPath(p);
    c.setClientName(client);
    c.setReplication(replication);
    c.setBlockSize(block_size);
    c.setMtime(mtime);
  });
}

Result<BlockInfo> NamespaceStore::AddBlock(std::string_view path, const std::string& client) {
  ASSIGN_OR_RETURN(std::string p, NormalizePath(path));
  BlockInfo block{ns_.next_block_id(), last_txid_ + 1, 0};
  RETURN_IF_ERROR(Commit([&](auto r) {
    auto a = r.initAddBlock();
    a.setPath(p);
    a.setClientName(client);
    a.setBlockId(block.id);
    a.setGeneration(block.generation);
  }));
  return block;
}

Status NamespaceStore::Complete(std::string_view path, const std::string& client,
                                const std::vector<uint64_t>& block_lengths, int64_t mtime) {
  ASSIGN_OR_RETURN(std::string p, NormalizePath(path));
  return Commit([&](auto r) {
    auto c = r.initComplete();
    c.setPath(p);
    c.setClientName(client);
    auto lengths = c.initBlockLengths(block_lengths.size());
    for (size_t i = 0; i < block_lengths.size(); ++i) lengths.set(i, block_lengths[i]);
    c.setMtime(mtime);
  });
}

Status NamespaceStore::Abandon(std::string_view path, std::vector<BlockInfo>* freed) {
  ASSIGN_OR_RETURN(std::string p, NormalizePath(path));
  std::vector<BlockInfo> blocks = ns_.BlocksUnder(p);
  RETURN_IF_ERROR(Commit([&](auto r) { r.initAbandon().setPath(p); }));
  if (freed) *freed = std::move(blocks);
  return Status::Ok();
}

Status NamespaceStore::AbandonBlock(std::string_view path, const std::string& client, uint64_t block_id,
                                    BlockInfo* freed) {
  ASSIGN_OR_RETURN(std::string p, NormalizePath(path));
  std::vector<BlockInfo> blocks = ns_.BlocksUnder(p);  // the open file's blocks (Stat hides it)
  RETURN_IF_ERROR(Commit([&](auto r) {
    auto a = r.initAbandonBlock();
    a.setPath(p);
    a.setClientName(client);
    a.setBlockId(block_id);
  }));
  // Committed: the check made sure `block_id` was the last block of a file at `p`.
  if (freed) *freed = blocks.back();
  return Status::Ok();
}

Status NamespaceStore::Rename(std::string_view src, std::string_view dst, int64_t mtime) {
  ASSIGN_OR_RETURN(std::string s, NormalizePath(src));
  ASSIGN_OR_RETURN(std::string d, NormalizePath(dst));
  return Commit([&](auto r) {
    auto m = r.initRename();
    m.setSrc(s);
    m.setDst(d);
    m.setMtime(mtime);
  });
}

Status NamespaceStore::Delete(std::string_view path, bool recursive, int64_t mtime, std::vector<BlockInfo>* freed) {
  ASSIGN_OR_RETURN(std::string p, NormalizePath(path));
  std::vector<BlockInfo> blocks = ns_.BlocksUnder(p);
  RETURN_IF_ERROR(Commit([&](auto r) {
    auto d = r.initDelete();
    d.setPath(p);
    d.setRecursive(recursive);
    d.setMtime(mtime);
  }));
  if (freed) *freed = std::move(blocks);
  return Status::Ok();
}

Status NamespaceStore::SetReplication(std::string_view path, uint32_t replication) {
  ASSIGN_OR_RETURN(std::string p, NormalizePath(path));
  return Commit([&](auto r) {
    auto s = r.initSetReplication();
    s.setPath(p);
    s.setReplication(replication);
  });
}

Status NamespaceStore::Checkpoint() {
  if (checkpoint_in_flight()) {
    auto installed = PollCheckpoint(/*wait=*/true);
    if (installed.ok() && child_txid_ == last_txid_) return Status::Ok();
    if (!installed.ok()) LOG(WARNING) << installed.status().ToString() << "; writing the checkpoint in the foreground";
  }
  if (!broken_.ok()) return broken_;
  RETURN_IF_ERROR(WriteCheckpoint(CheckpointPath(last_txid_), ns_, last_txid_));
  if (journal_first_txid_ != last_txid_ + 1) RETURN_IF_ERROR(StartJournal(last_txid_ + 1));
  return RemoveObsoleteFiles();
}

Status NamespaceStore::StartCheckpoint() {
  if (checkpoint_in_flight()) {
    return AlreadyExists(dir_ + ": checkpoint." + std::to_string(child_txid_) + " is being written");
  }
  if (!broken_.ok()) return broken_;
  const uint64_t txid = last_txid_;
  // Roll first: what is journaled from now on goes to a journal the image does not cover.
  if (journal_first_txid_ != txid + 1) RETURN_IF_ERROR(StartJournal(txid + 1));
  const std::string tmp = CheckpointPath(txid) + ".tmp";
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return IOError(dir_ + ": cannot create a pipe for the checkpoint writer: " + std::strerror(errno));
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int err = errno;
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    return IOError(dir_ + ": cannot fork the checkpoint writer: " + std::strerror(err));
  }
  if (pid == 0) {
    ::close(pipe_fds[0]);
    // Die with the namenode: an orphan would go on writing an image nobody installs.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(4);
    RunCheckpointChild(tmp, txid, pipe_fds[1]);
  }
  ::close(pipe_fds[1]);
  child_pid_ = pid;
  child_txid_ = txid;
  child_error_fd_ = pipe_fds[0];
  return Status::Ok();
}

void NamespaceStore::RunCheckpointChild(const std::string& tmp, uint64_t txid, int error_fd) {
  // Only the forking thread exists here, and any lock another thread held stays held: no
  // logging, no locks, no atexit handlers (_exit). glibc's malloc is reset for the child.
  int code = 0;
  try {
    if (child_hook_) child_hook_();
    Status st = WriteCheckpointFile(tmp, ns_, txid);
    if (!st.ok()) {
      const std::string& m = st.message();
      ssize_t n = ::write(error_fd, m.data(), std::min<size_t>(m.size(), 4096));
      (void)n;
      code = 1;
    }
  } catch (...) {
    code = 3;
  }
  ::_exit(code);
}

Result<bool> NamespaceStore::PollCheckpoint(bool wait) {
  if (!checkpoint_in_flight()) return false;
  int wstatus = 0;
  pid_t r;
  do {
    r = ::waitpid(child_pid_, &wstatus, wait ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  const int wait_errno = errno;
  if (r == 0) return false;  // still writing
  const std::string path = CheckpointPath(child_txid_);
  const std::string tmp = path + ".tmp";
  char message[4096];
  ssize_t n = ::read(child_error_fd_, message, sizeof(message));
  ::close(child_error_fd_);
  child_error_fd_ = -1;
  child_pid_ = 0;
  Status st;
  if (r < 0) {
    st = IOError(path + ": cannot wait for the checkpoint writer: " + std::strerror(wait_errno));
  } else if (WIFSIGNALED(wstatus)) {
    st = IOError(path + ": the checkpoint writer was killed by signal " + std::to_string(WTERMSIG(wstatus)));
  } else if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    st = IOError(path + ": the checkpoint writer exited with status " + std::to_string(WEXITSTATUS(wstatus)) +
                 (n > 0 ? ": " + std::string(message, static_cast<size_t>(n)) : std::string()));
  }
  if (st.ok()) st = sawmill::Rename(tmp, path);
  if (!st.ok()) {
    (void)RemoveAll(tmp);  // the older checkpoint and the journals since it still recover
    return st;
  }
  RETURN_IF_ERROR(SyncDirectory(dir_));
  RETURN_IF_ERROR(RemoveObsoleteFiles());
  return true;
}

Status NamespaceStore::RemoveObsoleteFiles() {
  ASSIGN_OR_RETURN(MetadataFiles files, ListMetadataFiles(dir_));
  std::vector<uint64_t>& checkpoints = files.checkpoints;
  std::vector<uint64_t>& journals = files.journals;
  // Keep two images, so that a torn newest one still leaves a way back, and the journals that
  // lead from the older one to now.
  for (size_t i = 2; i < checkpoints.size(); ++i) RETURN_IF_ERROR(RemoveAll(CheckpointPath(checkpoints[i])));
  if (checkpoints.size() < 2) return Status::Ok();
  uint64_t oldest_kept = checkpoints[1];
  for (size_t i = 0; i + 1 < journals.size(); ++i) {
    if (journals[i + 1] <= oldest_kept + 1) RETURN_IF_ERROR(RemoveAll(JournalPath(journals[i])));
  }
  return Status::Ok();
}

std::string NamespaceStore::Dump() const {
  return ns_.Dump() + "last_txid=" + std::to_string(last_txid_) + "\n";
}

}  // namespace sawmill::dfs
