#include "records/manifest.h"

#include <cstring>

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <capnp/pretty-print.h>

#include "common/file.h"
#include "common/local_fs.h"
#include "records/manifest.capnp.h"

namespace sawmill {

static constexpr uint32_t kManifestVersion = 1;

uint64_t Manifest::records() const {
  uint64_t n = 0;
  for (const auto& p : parts) n += p.records;
  return n;
}

uint64_t Manifest::bytes() const {
  uint64_t n = 0;
  for (const auto& p : parts) n += p.bytes;
  return n;
}

static void Build(const Manifest& m, schema::Manifest::Builder b) {
  b.setFormatVersion(kManifestVersion);
  b.setJobName(m.job_name);
  auto inputs = b.initInputs(m.inputs.size());
  for (size_t i = 0; i < m.inputs.size(); ++i) inputs.set(i, m.inputs[i]);
  b.setPartitioner(m.partitioner);
  auto points = b.initSplitPoints(m.split_points.size());
  for (size_t i = 0; i < m.split_points.size(); ++i) {
    const auto& s = m.split_points[i];
    points.set(i, capnp::Data::Reader(reinterpret_cast<const kj::byte*>(s.data()), s.size()));
  }
  b.setNumPartitions(m.num_partitions);
  b.setSorted(m.sorted);
  b.setTotalOrder(m.total_order);
  b.setReducersAuto(m.reducers_auto);
  auto parts = b.initParts(m.parts.size());
  for (size_t i = 0; i < m.parts.size(); ++i) {
    const PartInfo& p = m.parts[i];
    auto pb = parts[i];
    pb.setName(p.name);
    pb.setPartition(p.partition);
    pb.setRecordCount(p.records);
    pb.setByteCount(p.bytes);
    pb.setContentHash(p.content_hash);
  }
  auto counters = b.initCounters(m.counters.size());
  size_t i = 0;
  for (const auto& [name, value] : m.counters) {
    counters[i].setName(name);
    counters[i].setValue(value);
    ++i;
  }
  b.setRecordCount(m.records());
  b.setByteCount(m.bytes());
}

std::string ManifestBytes(const Manifest& m) {
  capnp::MallocMessageBuilder message;
  Build(m, message.initRoot<schema::Manifest>());
  kj::Array<capnp::word> words = capnp::messageToFlatArray(message);
  kj::ArrayPtr<const char> bytes = words.asChars();
  return std::string(bytes.begin(), bytes.size());
}

Status WriteManifest(const std::string& path, const Manifest& m) { return FsWriteFile(path, ManifestBytes(m)); }

Result<Manifest> ReadManifest(const std::string& path) {
  std::string data;
  RETURN_IF_ERROR(FsReadFile(path, &data));
  if (data.size() % sizeof(capnp::word) != 0 || data.empty()) return Corruption(path + ": not a manifest");
  kj::Array<capnp::word> words = kj::heapArray<capnp::word>(data.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), data.data(), data.size());
  Manifest m;
  kj::Maybe<kj::Exception> error = kj::runCatchingExceptions([&] {
    capnp::FlatArrayMessageReader reader(words);
    auto r = reader.getRoot<schema::Manifest>();
    if (r.getFormatVersion() != kManifestVersion) {
      throw std::runtime_error("unsupported manifest version");
    }
    m.job_name = r.getJobName();
    for (auto s : r.getInputs()) m.inputs.emplace_back(s);
    m.partitioner = r.getPartitioner();
    for (auto d : r.getSplitPoints()) m.split_points.emplace_back(reinterpret_cast<const char*>(d.begin()), d.size());
    m.num_partitions = r.getNumPartitions();
    m.sorted = r.getSorted();
    m.total_order = r.getTotalOrder();
    m.reducers_auto = r.getReducersAuto();
    for (auto p : r.getParts()) {
      m.parts.push_back({p.getName(), p.getPartition(), p.getRecordCount(), p.getByteCount(), p.getContentHash()});
    }
    for (auto c : r.getCounters()) m.counters[c.getName()] = c.getValue();
  });
  KJ_IF_MAYBE(e, error) {
    return Corruption(path + ": cannot parse manifest: " + std::string(e->getDescription().cStr()));
  }
  return m;
}

std::string ManifestToText(const Manifest& m) {
  capnp::MallocMessageBuilder message;
  auto b = message.initRoot<schema::Manifest>();
  Build(m, b);
  kj::StringTree text = capnp::prettyPrint(b.asReader());
  return text.flatten().cStr();
}

}  // namespace sawmill
