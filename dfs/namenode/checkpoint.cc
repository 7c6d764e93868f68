// Checkpoint image encoding, atomic writing and verified reading.
#include "dfs/namenode/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <capnp/message.h>
#include <capnp/serialize.h>

#include "common/checksum.h"
#include "common/coding.h"
#include "common/file.h"
#include "dfs/namenode/namespace.capnp.h"

namespace sawmill::dfs {

namespace {

constexpr char kMagic[8] = {'S', 'W', 'N', 'N', 'I', 'M', 'G', '1'};
constexpr size_t kHeaderBytes = 24;
constexpr uint32_t kImageVersion = 1;

// A kj stream that either checksums what is written (file == nullptr) or appends it to `file`;
// the first error is kept in `status` rather than thrown.
class ImageStream final : public kj::OutputStream {
 public:
  explicit ImageStream(WritableFile* file) : file_(file) {}
  void write(const void* buffer, size_t size) override {
    if (file_ == nullptr) {
      checksum_.Update(buffer, size);
    } else if (status_.ok()) {
      status_ = file_->Append(buffer, size);
    }
  }
  uint64_t digest() const { return checksum_.Digest(); }
  const Status& status() const { return status_; }

 private:
  WritableFile* file_;
  Checksum64Stream checksum_;
  Status status_;
};

void BuildImage(const Namespace& ns, uint64_t last_txid, capnp::MessageBuilder& message) {
  auto image = message.initRoot<schema::Image>();
  image.setFormatVersion(kImageVersion);
  image.setLastTxid(last_txid);
  image.setNextBlockId(ns.next_block_id());
  std::vector<InodeRecord> inodes = ns.Snapshot();
  auto list = image.initInodes(inodes.size());
  for (size_t i = 0; i < inodes.size(); ++i) {
    InodeRecord& r = inodes[i];
    auto b = list[i];
    b.setPath(r.path);
    b.setIsDir(r.is_dir);
    b.setMtime(r.mtime);
    if (!r.is_dir) {
      b.setReplication(r.replication);
      b.setBlockSize(r.block_size);
      auto blocks = b.initBlocks(r.blocks.size());
      for (size_t j = 0; j < r.blocks.size(); ++j) {
        blocks[j].setId(r.blocks[j].id);
        blocks[j].setGeneration(r.blocks[j].generation);
        blocks[j].setLength(r.blocks[j].length);
      }
      b.setUnderConstruction(r.under_construction);
      b.setLeaseHolder(r.lease_holder);
    }
    r = InodeRecord();  // encoded: give its memory back as the message grows
  }
}

}  // namespace

Status WriteCheckpointFile(const std::string& path, const Namespace& ns, uint64_t last_txid) {
  capnp::MallocMessageBuilder message(1 << 17);  // 1 MiB, then growing: few segments, few writes
  kj::Maybe<kj::Exception> error = kj::runCatchingExceptions([&] { BuildImage(ns, last_txid, message); });
  KJ_IF_MAYBE(e, error) {
    return Internal(path + ": cannot encode checkpoint: " + std::string(e->getDescription().cStr()));
  }
  const uint64_t payload_bytes = capnp::computeSerializedSizeInWords(message) * sizeof(capnp::word);
  ImageStream checksum(nullptr);
  capnp::writeMessage(checksum, message);

  std::string header(kMagic, sizeof(kMagic));
  PutFixed64(&header, payload_bytes);
  PutFixed64(&header, checksum.digest());
  ASSIGN_OR_RETURN(auto f, WritableFile::Create(path));
  RETURN_IF_ERROR(f->Append(header));
  ImageStream out(f.get());
  capnp::writeMessage(out, message);
  RETURN_IF_ERROR(out.status());
  if (f->Size() != kHeaderBytes + payload_bytes) {
    return Internal(path + ": checkpoint payload is " + std::to_string(f->Size() - kHeaderBytes) +
                    " bytes, expected " + std::to_string(payload_bytes));
  }
  RETURN_IF_ERROR(f->Sync());
  return f->Close();
}

Status WriteCheckpoint(const std::string& path, const Namespace& ns, uint64_t last_txid) {
  const std::string tmp = path + ".tmp";
  Status s = WriteCheckpointFile(tmp, ns, last_txid);
  if (s.ok()) s = Rename(tmp, path);
  if (!s.ok()) {
    // On a full disk the partial image would keep the space the journal needs.
    (void)RemoveAll(tmp);
    return s;
  }
  return SyncDirectory(Dirname(path));
}

Result<LoadedCheckpoint> ReadCheckpoint(const std::string& path) {
  // Read straight into capnp words (the header is three of them): no second copy of the image.
  ASSIGN_OR_RETURN(auto file, RandomAccessFile::Open(path));
  const uint64_t size = file->size();
  if (size < kHeaderBytes) return Corruption(path + ": not a namespace checkpoint");
  kj::Array<capnp::word> all = kj::heapArray<capnp::word>((size + sizeof(capnp::word) - 1) / sizeof(capnp::word));
  char* data = all.asChars().begin();
  RETURN_IF_ERROR(file->ReadAt(0, size, data));
  if (std::memcmp(data, kMagic, sizeof(kMagic)) != 0) return Corruption(path + ": not a namespace checkpoint");
  uint64_t len = DecodeFixed64(data + 8);
  if (len != size - kHeaderBytes || len % sizeof(capnp::word) != 0) {
    return Corruption(path + ": checkpoint length " + std::to_string(len) + " does not match the file (" +
                      std::to_string(size) + " bytes): torn write?");
  }
  if (Checksum64(data + kHeaderBytes, len) != DecodeFixed64(data + 16)) {
    return Corruption(path + ": checkpoint checksum mismatch");
  }
  static_assert(kHeaderBytes % sizeof(capnp::word) == 0);
  kj::ArrayPtr<const capnp::word> words = all.slice(kHeaderBytes / sizeof(capnp::word), all.size());
  std::vector<InodeRecord> inodes;
  uint64_t last_txid = 0, next_block_id = 0;
  kj::Maybe<kj::Exception> error = kj::runCatchingExceptions([&] {
    capnp::ReaderOptions options;
    options.traversalLimitInWords = words.size() + 1024;  // the image is as large as the namespace
    capnp::FlatArrayMessageReader reader(words, options);
    auto image = reader.getRoot<schema::Image>();
    if (image.getFormatVersion() != kImageVersion) throw std::runtime_error("unsupported image version");
    last_txid = image.getLastTxid();
    next_block_id = image.getNextBlockId();
    auto list = image.getInodes();  // once: each get counts against the traversal limit
    inodes.reserve(list.size());
    for (auto in : list) {
      InodeRecord r;
      r.path = in.getPath();
      r.is_dir = in.getIsDir();
      r.mtime = in.getMtime();
      r.replication = in.getReplication();
      r.block_size = in.getBlockSize();
      for (auto b : in.getBlocks()) r.blocks.push_back({b.getId(), b.getGeneration(), b.getLength()});
      r.under_construction = in.getUnderConstruction();
      r.lease_holder = in.getLeaseHolder();
      inodes.push_back(std::move(r));
    }
  });
  KJ_IF_MAYBE(e, error) {
    return Corruption(path + ": cannot parse checkpoint: " + std::string(e->getDescription().cStr()));
  }
  all = nullptr;  // decoded: the image's memory goes back before the tree is built
  auto ns = Namespace::FromSnapshot(inodes, next_block_id);
  if (!ns.ok()) return ns.status().WithContext(path);
  return LoadedCheckpoint{std::move(ns).value(), last_txid};
}

}  // namespace sawmill::dfs
