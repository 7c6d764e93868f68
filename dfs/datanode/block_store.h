// The datanode's local replica storage: block files under <dir>/tmp while being written, renamed
// into <dir>/finalized by Finalize; an in-memory map of finalized blocks built by scanning at Open.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "dfs/block_info.h"
#include "dfs/datanode/block_file.h"

namespace sawmill::dfs {

struct BlockStoreOptions {
  uint32_t chunk_size = kDefaultChunkBytes;  // for new blocks; existing files carry their own
  // fdatasync each replica and its directory at Finalize, so an acknowledged block survives a
  // power loss of every replica's machine at once. Off, a block is as durable as the page cache
  // until the kernel writes it back (what cp gives; replication still covers a machine dying).
  bool sync_on_finalize = true;
};

// What a same-host reader needs to read a replica without the datanode: pass `path` and `id` to
// ReadBlockFileRange. Data byte i is at file offset data_offset + i.
struct LocalBlock {
  std::string path;
  uint64_t id = 0;
  uint64_t generation = 0;
  uint64_t length = 0;
  uint32_t chunk_size = 0;
  uint64_t data_offset = kBlockFileHeaderBytes;
};

// What Open found besides good blocks. Malformed files stay on disk (evidence; the namenode decides).
struct BlockStoreOpenReport {
  std::vector<std::string> removed;  // leftover tmp files and superseded generations, deleted
  std::vector<Status> malformed;     // finalized files that failed validation or have bad names
};

struct StorageUsage {
  uint64_t capacity_bytes = 0;   // of the file system holding the store (statvfs)
  uint64_t available_bytes = 0;  // to this (unprivileged) process
  uint64_t block_bytes = 0;      // file sizes of the finalized blocks
};

class BlockWriter;

// Thread-safe: a mutex guards the maps; file I/O happens outside it. A Read racing a Delete of the
// same block either succeeds (the open file outlives the unlink) or fails with kNotFound.
// Every BlockWriter must be finished or destroyed before the store is (CHECKed).
class BlockStore {
 public:
  // Creates <dir>/tmp and <dir>/finalized if missing, deletes everything in tmp (unfinished
  // writes from before a crash), and validates each finalized file's header, footer and size.
  static Result<std::unique_ptr<BlockStore>> Open(const std::string& dir, BlockStoreOptions options = {});
  ~BlockStore();
  const BlockStoreOpenReport& open_report() const { return report_; }

  // Starts a replica in tmp/. kAlreadyExists when `id` is finalized, malformed or being written.
  Result<std::unique_ptr<BlockWriter>> CreateBlock(uint64_t id, uint64_t generation);
  // Reserves `id` as CreateBlock does, for a block file that someone else (a short-circuit
  // writer on this machine) writes at the writer's tmp_path(); finish with FinalizeWritten.
  Result<std::unique_ptr<BlockWriter>> ReserveBlock(uint64_t id, uint64_t generation);
  const BlockStoreOptions& options() const { return options_; }
  // Data bytes [offset, offset + length), clipped at the block's end (see ReadBlockFileRange).
  // kNotFound for an unknown id; kCorruption (naming the block) for a bad checksum or a file that
  // no longer matches what Open or Finalize recorded. Never returns unverified bytes.
  Result<std::string> Read(uint64_t id, uint64_t offset, uint64_t length) const;
  // Full checksum scan of one block.
  Status Verify(uint64_t id) const;
  // Removes a finalized or malformed replica's file.
  Status Delete(uint64_t id);
  // Finalized, well-formed blocks in id order.
  std::vector<BlockInfo> List() const;
  // Ids whose files failed validation at Open (still on disk until Deleted).
  std::vector<uint64_t> MalformedIds() const;
  Result<LocalBlock> LocalPath(uint64_t id) const;
  Result<StorageUsage> Usage() const;
  const std::string& dir() const { return dir_; }

 private:
  friend class BlockWriter;
  struct Entry {
    uint64_t generation;
    uint64_t length;
    uint32_t chunk_size;
    uint64_t file_size;
  };
  struct Malformed {
    std::string path;
    Status status;
  };
  BlockStore(std::string dir, BlockStoreOptions options) : dir_(std::move(dir)), options_(options) {}
  Status Scan();
  std::string FinalizedPath(uint64_t id, uint64_t generation) const;
  std::string TmpPath(uint64_t id, uint64_t generation) const;
  // Looks up a finalized entry, or returns the malformed status / kNotFound.
  Result<Entry> Find(uint64_t id) const;
  // Opens the file and checks it still matches `e`.
  Result<std::unique_ptr<RandomAccessFile>> OpenChecked(uint64_t id, const Entry& e, BlockFileInfo* info) const;
  // Marks `id` as being written; kAlreadyExists when it is finalized, malformed or being written.
  Status StartWrite(uint64_t id);
  void FinishWrite(uint64_t id, const Entry* finalized);  // nullptr: aborted

  const std::string dir_;
  const BlockStoreOptions options_;
  BlockStoreOpenReport report_;
  mutable std::mutex mu_;
  std::map<uint64_t, Entry> blocks_;               // guarded by mu_
  std::map<uint64_t, Malformed> malformed_;        // guarded by mu_
  std::set<uint64_t> writing_;                     // ids with a live BlockWriter; guarded by mu_
};

// Writes one replica. Append in any piece sizes, then Finalize (fsync, rename into finalized/,
// fsync of the directory) or Abort; destruction without either aborts (removes the tmp file).
// A reserved writer (ReserveBlock) has no file of its own: someone else writes tmp_path(), and
// FinalizeWritten checks that file and then stores it exactly as Finalize does. Not thread-safe.
class BlockWriter {
 public:
  ~BlockWriter();
  Status Append(std::string_view data);
  Result<BlockInfo> Finalize();
  // Reserved writers: the file at tmp_path() must be a finished block file of this id and
  // generation, the store's chunk size, and `length` data bytes (header, footer and size are
  // checked, not the chunk checksums: see docs/dfs.md). kCorruption naming the file otherwise,
  // and the file is removed. The writer synced the file if options().sync_on_finalize.
  Result<BlockInfo> FinalizeWritten(uint64_t length);
  void Abort();
  uint64_t id() const { return id_; }
  uint64_t length() const { return file_ ? file_->length() : 0; }
  std::string tmp_path() const;

 private:
  friend class BlockStore;
  BlockWriter(BlockStore* store, uint64_t id, uint64_t generation, std::unique_ptr<BlockFileWriter> file)
      : store_(store), id_(id), generation_(generation), file_(std::move(file)) {}
  // Renames the finished tmp file into finalized/ and records it (or aborts when `finished`
  // failed): the one end of both Finalize and FinalizeWritten.
  Result<BlockInfo> Install(Status finished, uint64_t length, bool sync);
  BlockStore* store_;
  uint64_t id_;
  uint64_t generation_;
  std::unique_ptr<BlockFileWriter> file_;  // null for a reserved writer
  bool done_ = false;
};

}  // namespace sawmill::dfs
