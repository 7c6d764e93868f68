// BlockStore: the scan at Open, the block map, and BlockWriter's tmp -> finalized protocol.
#include "dfs/datanode/block_store.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

#include <glog/logging.h>

#include "common/fault_point.h"
#include "common/file.h"

namespace sawmill::dfs {
namespace {

constexpr std::string_view kTmp = "tmp";
constexpr std::string_view kFinalized = "finalized";

std::string BlockFileName(uint64_t id, uint64_t generation) {
  return "blk_" + std::to_string(id) + "_" + std::to_string(generation);
}

// Parses "blk_<id>_<generation>" (decimal, nothing else).
bool ParseBlockFileName(std::string_view name, uint64_t* id, uint64_t* generation) {
  if (!name.starts_with("blk_")) return false;
  const char* p = name.data() + 4;
  const char* end = name.data() + name.size();
  auto [after_id, ec1] = std::from_chars(p, end, *id);
  if (ec1 != std::errc() || after_id == p || after_id == end || *after_id != '_') return false;
  auto [after_gen, ec2] = std::from_chars(after_id + 1, end, *generation);
  return ec2 == std::errc() && after_gen == end && after_gen != after_id + 1;
}


std::string IdString(uint64_t id) { return "block " + std::to_string(id); }

}  // namespace

Result<std::unique_ptr<BlockStore>> BlockStore::Open(const std::string& dir, BlockStoreOptions options) {
  if (options.chunk_size == 0 || options.chunk_size > kMaxChunkBytes) {
    return InvalidArgument(dir + ": chunk size " + std::to_string(options.chunk_size) + " out of range");
  }
  std::unique_ptr<BlockStore> store(new BlockStore(dir, options));
  RETURN_IF_ERROR(store->Scan());
  return store;
}

BlockStore::~BlockStore() {
  std::lock_guard lock(mu_);
  CHECK(writing_.empty()) << dir_ << ": BlockStore destroyed with " << writing_.size() << " open writers";
}

std::string BlockStore::FinalizedPath(uint64_t id, uint64_t generation) const {
  return JoinPath(JoinPath(dir_, kFinalized), BlockFileName(id, generation));
}

std::string BlockStore::TmpPath(uint64_t id, uint64_t generation) const {
  return JoinPath(JoinPath(dir_, kTmp), BlockFileName(id, generation));
}

Status BlockStore::Scan() {
  const std::string tmp = JoinPath(dir_, kTmp);
  const std::string finalized = JoinPath(dir_, kFinalized);
  RETURN_IF_ERROR(MakeDirs(tmp));
  RETURN_IF_ERROR(MakeDirs(finalized));
  // Nothing in tmp/ was acknowledged as written, so the writers' clients will retry elsewhere.
  ASSIGN_OR_RETURN(std::vector<std::string> leftovers, ListDir(tmp));
  for (const std::string& name : leftovers) {
    const std::string path = JoinPath(tmp, name);
    RETURN_IF_ERROR(RemoveAll(path));
    LOG(WARNING) << "removed unfinished block file " << path;
    report_.removed.push_back(path);
  }
  ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(finalized));
  for (const std::string& name : names) {
    const std::string path = JoinPath(finalized, name);
    uint64_t id, generation;
    if (!ParseBlockFileName(name, &id, &generation)) {
      report_.malformed.push_back(Corruption(path + ": not a block file name (want blk_<id>_<generation>)"));
      continue;
    }
    Status bad;
    auto file = RandomAccessFile::Open(path);
    if (!file.ok()) {
      bad = file.status();
    } else if (auto info = ReadBlockFileInfo(**file, id); !info.ok()) {
      bad = info.status();
    } else if (info->generation != generation) {
      bad = Corruption(path + ": " + IdString(id) + ": header generation " + std::to_string(info->generation) +
                       " differs from the file name's");
    } else {
      Entry e{generation, info->length, info->chunk_size, info->file_size};
      auto [it, inserted] = blocks_.try_emplace(id, e);
      if (!inserted) {
        // Two generations: recovery finalized the newer one and crashed before deleting the older.
        uint64_t stale = std::min(it->second.generation, generation);
        if (generation > it->second.generation) it->second = e;
        const std::string stale_path = FinalizedPath(id, stale);
        RETURN_IF_ERROR(RemoveAll(stale_path));
        LOG(WARNING) << "removed superseded generation " << stale_path;
        report_.removed.push_back(stale_path);
      }
      continue;
    }
    LOG(ERROR) << "malformed block file: " << bad.ToString();
    report_.malformed.push_back(bad);
    malformed_.try_emplace(id, Malformed{path, bad});
  }
  // A good replica wins over a malformed file of the same id; the latter stays only in the report.
  for (const auto& [id, e] : blocks_) malformed_.erase(id);
  return Status::Ok();
}

Status BlockStore::StartWrite(uint64_t id) {
  std::lock_guard lock(mu_);
  if (blocks_.count(id) || malformed_.count(id) || writing_.count(id)) {
    return AlreadyExists(dir_ + ": " + IdString(id) + " already exists or is being written");
  }
  writing_.insert(id);
  return Status::Ok();
}

Result<std::unique_ptr<BlockWriter>> BlockStore::CreateBlock(uint64_t id, uint64_t generation) {
  RETURN_IF_ERROR(StartWrite(id));
  auto file = BlockFileWriter::Create(TmpPath(id, generation), id, generation, options_.chunk_size);
  if (!file.ok()) {
    RemoveAll(TmpPath(id, generation)).ok();  // best effort: a partial header may exist
    FinishWrite(id, nullptr);
    return file.status();
  }
  return std::unique_ptr<BlockWriter>(new BlockWriter(this, id, generation, std::move(file).value()));
}

Result<std::unique_ptr<BlockWriter>> BlockStore::ReserveBlock(uint64_t id, uint64_t generation) {
  RETURN_IF_ERROR(StartWrite(id));
  // A stale file of the same name (from a writer that gave up) must not pass for the new one.
  if (Status s = RemoveAll(TmpPath(id, generation)); !s.ok()) {
    FinishWrite(id, nullptr);
    return s;
  }
  return std::unique_ptr<BlockWriter>(new BlockWriter(this, id, generation, nullptr));
}

void BlockStore::FinishWrite(uint64_t id, const Entry* finalized) {
  std::lock_guard lock(mu_);
  CHECK_EQ(writing_.erase(id), 1u) << dir_ << ": " << IdString(id) << " was not being written";
  if (finalized) CHECK(blocks_.emplace(id, *finalized).second) << dir_ << ": " << IdString(id);
}

Result<BlockStore::Entry> BlockStore::Find(uint64_t id) const {
  std::lock_guard lock(mu_);
  if (auto it = blocks_.find(id); it != blocks_.end()) return it->second;
  if (auto it = malformed_.find(id); it != malformed_.end()) return it->second.status;
  return NotFound(dir_ + ": no finalized " + IdString(id));
}

Result<std::unique_ptr<RandomAccessFile>> BlockStore::OpenChecked(uint64_t id, const Entry& e,
                                                                 BlockFileInfo* info) const {
  const std::string path = FinalizedPath(id, e.generation);
  ASSIGN_OR_RETURN(auto file, RandomAccessFile::Open(path));
  ASSIGN_OR_RETURN(*info, ReadBlockFileInfo(*file, id));
  // The header and footer are self-consistent but may still have been swapped or rewritten.
  if (info->generation != e.generation || info->length != e.length) {
    return Corruption(path + ": " + IdString(id) + ": file now has generation " + std::to_string(info->generation) +
                      " length " + std::to_string(info->length) + ", expected " + std::to_string(e.generation) +
                      " and " + std::to_string(e.length));
  }
  return file;
}

Result<std::string> BlockStore::Read(uint64_t id, uint64_t offset, uint64_t length) const {
  ASSIGN_OR_RETURN(Entry e, Find(id));
  BlockFileInfo info;
  ASSIGN_OR_RETURN(auto file, OpenChecked(id, e, &info));
  return ReadBlockFileRange(*file, info, offset, length);
}

Status BlockStore::Verify(uint64_t id) const {
  ASSIGN_OR_RETURN(Entry e, Find(id));
  ASSIGN_OR_RETURN(BlockFileInfo info, VerifyBlockFile(FinalizedPath(id, e.generation), id));
  if (info.generation != e.generation || info.length != e.length) {
    return Corruption(FinalizedPath(id, e.generation) + ": " + IdString(id) +
                      ": file no longer matches the recorded generation and length");
  }
  return Status::Ok();
}

Status BlockStore::Delete(uint64_t id) {
  std::string path;
  {
    std::lock_guard lock(mu_);
    if (auto it = blocks_.find(id); it != blocks_.end()) {
      path = FinalizedPath(id, it->second.generation);
      blocks_.erase(it);
    } else if (auto m = malformed_.find(id); m != malformed_.end()) {
      path = m->second.path;
      malformed_.erase(m);
    } else {
      return NotFound(dir_ + ": cannot delete " + IdString(id) + ": no such block");
    }
  }
  // Unlinked outside the lock; the id is already gone from the maps, so no one re-finds the path.
  if (::unlink(path.c_str()) != 0) return ErrnoError("cannot delete " + IdString(id) + " file", path, errno);
  return Status::Ok();
}

std::vector<BlockInfo> BlockStore::List() const {
  std::lock_guard lock(mu_);
  std::vector<BlockInfo> out;
  out.reserve(blocks_.size());
  for (const auto& [id, e] : blocks_) out.push_back({id, e.generation, e.length});
  return out;
}

std::vector<uint64_t> BlockStore::MalformedIds() const {
  std::lock_guard lock(mu_);
  std::vector<uint64_t> out;
  for (const auto& [id, m] : malformed_) out.push_back(id);
  return out;
}

Result<LocalBlock> BlockStore::LocalPath(uint64_t id) const {
  ASSIGN_OR_RETURN(Entry e, Find(id));
  LocalBlock b;
  b.path = FinalizedPath(id, e.generation);
  b.id = id;
  b.generation = e.generation;
  b.length = e.length;
  b.chunk_size = e.chunk_size;
  return b;
}

Result<StorageUsage> BlockStore::Usage() const {
  struct statvfs vfs;
  if (::statvfs(dir_.c_str(), &vfs) != 0) return ErrnoError("cannot statvfs", dir_, errno);
  StorageUsage u;
  u.capacity_bytes = static_cast<uint64_t>(vfs.f_blocks) * vfs.f_frsize;
  u.available_bytes = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
  std::lock_guard lock(mu_);
  for (const auto& [id, e] : blocks_) u.block_bytes += e.file_size;
  return u;
}

BlockWriter::~BlockWriter() {
  if (!done_) Abort();
}

Status BlockWriter::Append(std::string_view data) {
  CHECK(!done_) << IdString(id_) << ": Append after Finalize or Abort";
  return file_->Append(data);
}

std::string BlockWriter::tmp_path() const { return store_->TmpPath(id_, generation_); }

Result<BlockInfo> BlockWriter::Finalize() {
  CHECK(!done_ && file_ != nullptr) << IdString(id_) << ": Finalize after Finalize or Abort, or of a reserved block";
  const bool sync = store_->options_.sync_on_finalize;
  return Install(file_->Finish(sync), file_->length(), sync);
}

Result<BlockInfo> BlockWriter::FinalizeWritten(uint64_t length) {
  CHECK(!done_ && file_ == nullptr) << IdString(id_) << ": FinalizeWritten after Finalize or Abort, or of a written block";
  const std::string tmp = tmp_path();
  // The header, footer and size: a file that is not this block's, or is unfinished or truncated,
  // is refused. Chunk checksums are not recomputed (that would read the whole block again); the
  // writer computed them from the bytes it wrote, as a pipeline's datanode does from packets.
  auto check = [&]() -> Status {
    ASSIGN_OR_RETURN(auto file, RandomAccessFile::Open(tmp));  // closed before the rename
    ASSIGN_OR_RETURN(BlockFileInfo info, ReadBlockFileInfo(*file, id_));
    if (info.generation != generation_ || info.length != length || info.chunk_size != store_->options_.chunk_size) {
      return Corruption(tmp + ": " + IdString(id_) + ": file has generation " + std::to_string(info.generation) +
                        ", length " + std::to_string(info.length) + ", chunk size " + std::to_string(info.chunk_size) +
                        "; expected " + std::to_string(generation_) + ", " + std::to_string(length) + ", " +
                        std::to_string(store_->options_.chunk_size));
    }
    return Status::Ok();
  };
  return Install(check(), length, store_->options_.sync_on_finalize);
}

Result<BlockInfo> BlockWriter::Install(Status s, uint64_t length, bool sync) {
  const std::string tmp = tmp_path();
  const std::string dest = store_->FinalizedPath(id_, generation_);
  bool renamed = false;
  if (s.ok()) s = FaultPoint("datanode.block.finalize", id_);  // its bytes are in tmp, not yet finalized
  if (s.ok()) s = RenameNoReplace(tmp, dest);
  if (s.ok()) {
    renamed = true;
    if (sync) s = SyncDirectory(Dirname(dest));
  }
  if (!s.ok()) {
    Abort();
    // The block was never acknowledged; don't let a restart find it half-durable.
    if (renamed) RemoveAll(dest).ok();
    return s.WithContext("finalizing " + IdString(id_));
  }
  done_ = true;
  BlockStore::Entry e{generation_, length, store_->options_.chunk_size,
                      BlockFileSize(length, store_->options_.chunk_size)};
  store_->FinishWrite(id_, &e);
  return BlockInfo{id_, generation_, e.length};
}

void BlockWriter::Abort() {
  CHECK(!done_) << IdString(id_) << ": Abort after Finalize or Abort";
  done_ = true;
  const std::string tmp = store_->TmpPath(id_, generation_);
  if (Status s = RemoveAll(tmp); !s.ok()) LOG(WARNING) << "cannot remove aborted block file: " << s.ToString();
  store_->FinishWrite(id_, nullptr);
}

}  // namespace sawmill::dfs
