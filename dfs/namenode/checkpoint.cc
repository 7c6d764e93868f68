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

}  // namespace

Status WriteCheckpoint(const std::string& path, const Namespace& ns, uint64_t last_txid) {
  capnp::MallocMessageBuilder message;
  auto image = message.initRoot<schema::Image>();
  image.setFormatVersion(kImageVersion);
  image.setLastTxid(last_txid);
  image.setNextBlockId(ns.next_block_id());
  std::vector<InodeRecord> inodes = ns.Snapshot();
  auto list = image.initInodes(inodes.size());
  for (size_t i = 0; i < inodes.size(); ++i) {
    const InodeRecord& r = inodes[i];
    auto b = list[i];
    b.setPath(r.path);
    b.setIsDir(r.is_dir);
    b.setMtime(r.mtime);
    if (r.is_dir) continue;
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
  kj::Array<capnp::word> words = capnp::messageToFlatArray(message);
  kj::ArrayPtr<const char> payload = words.asChars();

  std::string header(kMagic, sizeof(kMagic));
  PutFixed64(&header, payload.size());
  PutFixed64(&header, Checksum64(payload.begin(), payload.size()));
  std::string tmp = path + ".tmp";
  auto write = [&]() -> Status {
    ASSIGN_OR_RETURN(auto f, WritableFile::Create(tmp));
    RETURN_IF_ERROR(f->Append(header));
    RETURN_IF_ERROR(f->Append(payload.begin(), payload.size()));
    RETURN_IF_ERROR(f->Sync());
    return f->Close();
  };
  Status s = write();
  if (s.ok()) s = Rename(tmp, path);
  if (!s.ok()) {
    // On a full disk the partial image would keep the space the journal needs.
    (void)RemoveAll(tmp);
    return s;
  }
  return SyncDirectory(Dirname(path));
}

Result<LoadedCheckpoint> ReadCheckpoint(const std::string& path) {
  std::string data;
  RETURN_IF_ERROR(ReadFileToString(path, &data));
  if (data.size() < kHeaderBytes || std::memcmp(data.data(), kMagic, sizeof(kMagic)) != 0) {
    return Corruption(path + ": not a namespace checkpoint");
  }
  uint64_t len = DecodeFixed64(data.data() + 8);
  if (len != data.size() - kHeaderBytes || len % sizeof(capnp::word) != 0) {
    return Corruption(path + ": checkpoint length " + std::to_string(len) + " does not match the file (" +
                      std::to_string(data.size()) + " bytes): torn write?");
  }
  if (Checksum64(data.data() + kHeaderBytes, len) != DecodeFixed64(data.data() + 16)) {
    return Corruption(path + ": checkpoint checksum mismatch");
  }
  kj::Array<capnp::word> words = kj::heapArray<capnp::word>(len / sizeof(capnp::word));
  std::memcpy(words.begin(), data.data() + kHeaderBytes, len);
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
    for (auto in : image.getInodes()) {
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
  auto ns = Namespace::FromSnapshot(inodes, next_block_id);
  if (!ns.ok()) return ns.status().WithContext(path);
  return LoadedCheckpoint{std::move(ns).value(), last_txid};
}

}  // namespace sawmill::dfs
