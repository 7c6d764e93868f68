#include "datasets/dataset_catalog.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <memory>
#include <random>

#include "common/file.h"
#include "common/local_fs.h"
#include "mapreduce/user_code.h"
#include "records/manifest.h"
#include "records/record_file.h"

namespace sawmill::datasets {
namespace {

constexpr char kScheme[] = "dataset:";
constexpr char kPromotions[] = "_promotions";
constexpr char kReserved[] = "_reserved";

bool ParseNumber(const std::string& s, size_t digits, uint64_t* v) {
  if (s.size() != digits || s.find_first_not_of("0123456789") != std::string::npos) return false;
  *v = std::stoull(s);
  return true;
}

Result<std::vector<std::string>> ListNames(const std::string& dir) {
  ASSIGN_OR_RETURN(bool exists, FsExists(dir));
  if (!exists) return std::vector<std::string>{};
  ASSIGN_OR_RETURN(ResolvedPath r, ResolvePath(dir));
  ASSIGN_OR_RETURN(auto entries, r.fs->List(r.path));
  std::vector<std::string> names;
  for (const auto& e : entries) names.push_back(Basename(e.path));
  std::sort(names.begin(), names.end());
  return names;
}

std::string PromotionName(uint64_t seq) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%012llu", static_cast<unsigned long long>(seq));
  return buf;
}

// Writes a new entry holding `content` into `dir` under the first free name `name(n)` for n
// from `first` on, and returns that n. The entry is renamed into place, which never replaces one
// another writer put there first, so concurrent writers each get their own number.
Result<uint64_t> ClaimNext(const std::string& dir, uint64_t first, std::string (*name)(uint64_t),
                           std::string_view content) {
  static std::atomic<uint64_t> serial{0};
  const std::string tmp = JoinPath(dir, ".tmp-" + std::to_string(::getpid()) + "-" +
                                            std::to_string(serial.fetch_add(1)) + "-" +
                                            std::to_string(std::random_device{}()));
  RETURN_IF_ERROR(FsWriteFile(tmp, content));
  for (uint64_t n = first;; ++n) {
    Status s = FsRename(tmp, JoinPath(dir, name(n)));
    if (s.ok()) return n;
    if (s.code() == StatusCode::kAlreadyExists && n - first < 1000) continue;
    if (s.code() != StatusCode::kAlreadyExists) {
      // The rename's answer was lost (a store restart): it was applied if the temporary is gone.
      auto left = FsExists(tmp);
      if (left.ok() && !*left) return n;
    }
    (void)FsRemoveAll(tmp);
    return s;
  }
}

uint64_t NextNumber(const std::vector<std::string>& names, size_t digits) {
  uint64_t next = 1;
  for (const auto& n : names) {
    uint64_t v;
    if (ParseNumber(n, digits, &v)) next = std::max(next, v + 1);
  }
  return next;
}

// Appends a promotion naming `version`: the next sequence number.
Status AppendPromotion(const std::string& root, const std::string& name, uint64_t version) {
  std::string dir = JoinPath(DatasetDir(root, name), kPromotions);
  RETURN_IF_ERROR(FsMkdirs(dir));
  ASSIGN_OR_RETURN(auto names, ListNames(dir));
  auto claimed = ClaimNext(dir, NextNumber(names, 12), PromotionName, VersionName(version) + "\n");
  if (!claimed.ok()) return claimed.status().WithContext("promoting dataset " + name);
  return Status::Ok();
}

}  // namespace

bool IsDatasetPath(const std::string& path) { return path.rfind(kScheme, 0) == 0; }

Status ValidateName(const std::string& name) {
  bool ok = !name.empty() && name[0] != '.' && name[0] != '_' && name.size() <= 200;
  for (char c : name) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-');
  return ok ? Status::Ok() : InvalidArgument("bad dataset name '" + name + "' (letters, digits, _ . -)");
}

std::string DatasetDir(const std::string& root, const std::string& name) {
  return JoinPath(JoinPath(root, "datasets"), name);
}

std::string VersionName(uint64_t version) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%08llu", static_cast<unsigned long long>(version));
  return buf;
}

Result<std::vector<VersionInfo>> ListVersions(const std::string& root, const std::string& name) {
  RETURN_IF_ERROR(ValidateName(name));
  std::string dir = DatasetDir(root, name);
  ASSIGN_OR_RETURN(auto names, ListNames(dir));
  std::vector<VersionInfo> out;
  for (const auto& n : names) {
    VersionInfo v;
    if (!ParseNumber(n, 8, &v.version)) continue;
    v.path = JoinPath(dir, n);
    ASSIGN_OR_RETURN(v.complete, FsExists(JoinPath(v.path, kManifestName)));
    out.push_back(std::move(v));
  }
  return out;
}

Result<std::vector<std::string>> ListDatasets(const std::string& root) {
  ASSIGN_OR_RETURN(auto names, ListNames(JoinPath(root, "datasets")));
  std::vector<std::string> out;
  for (const auto& n : names) {
    if (ValidateName(n).ok()) out.push_back(n);
  }
  return out;
}

Result<std::vector<uint64_t>> Promotions(const std::string& root, const std::string& name) {
  RETURN_IF_ERROR(ValidateName(name));
  std::string dir = JoinPath(DatasetDir(root, name), kPromotions);
  ASSIGN_OR_RETURN(auto names, ListNames(dir));
  std::vector<uint64_t> out;
  for (const auto& n : names) {
    uint64_t seq, version;
    if (!ParseNumber(n, 12, &seq)) continue;
    std::string text;
    RETURN_IF_ERROR(FsReadFile(JoinPath(dir, n), &text));
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    if (!ParseNumber(text, 8, &version)) return Corruption(JoinPath(dir, n) + ": not a version");
    out.push_back(version);
  }
  return out;
}

Result<uint64_t> Current(const std::string& root, const std::string& name) {
  ASSIGN_OR_RETURN(auto promotions, Promotions(root, name));
  return promotions.empty() ? 0 : promotions.back();
}

Result<std::string> NewVersionPath(const std::string& root, const std::string& name) {
  ASSIGN_OR_RETURN(auto versions, ListVersions(root, name));
  // A run's output directory may appear long after its version was chosen (a program's at its
  // last stage), so the choice itself is recorded, _reserved/<version>, and no other run can
  // make the same one.
  const std::string reserved = JoinPath(DatasetDir(root, name), kReserved);
  RETURN_IF_ERROR(FsMkdirs(reserved));
  ASSIGN_OR_RETURN(auto taken, ListNames(reserved));
  uint64_t first = std::max(versions.empty() ? 1 : versions.back().version + 1, NextNumber(taken, 8));
  ASSIGN_OR_RETURN(uint64_t version, ClaimNext(reserved, first, VersionName, ""));
  return JoinPath(DatasetDir(root, name), VersionName(version));
}

Result<std::string> ResolveForRead(const std::string& root, const std::string& spec) {
  std::string name = spec.substr(sizeof(kScheme) - 1);
  std::string version;
  if (size_t at = name.find('@'); at != std::string::npos) {
    version = name.substr(at + 1);
    name = name.substr(0, at);
  }
  RETURN_IF_ERROR(ValidateName(name));
  ASSIGN_OR_RETURN(auto versions, ListVersions(root, name));
  uint64_t want = 0;
  if (!version.empty()) {
    if (version.find_first_not_of("0123456789") != std::string::npos || version.size() > 8) {
      return InvalidArgument("bad dataset version '" + version + "' in " + spec);
    }
    want = std::stoull(version);
  } else {
    ASSIGN_OR_RETURN(want, Current(root, name));
    if (want == 0) {
      for (const auto& v : versions) {
        if (v.complete) want = v.version;
      }
    }
  }
  for (const auto& v : versions) {
    if (v.version == want && v.complete) return v.path;
  }
  return NotFound("dataset " + spec + ": no such complete version under " + DatasetDir(root, name));
}

Status Promote(const std::string& root, const std::string& name, uint64_t version) {
  ASSIGN_OR_RETURN(auto versions, ListVersions(root, name));
  for (const auto& v : versions) {
    if (v.version != version) continue;
    if (!v.complete) return InvalidArgument("dataset " + name + " version " + VersionName(version) + " is incomplete (no _MANIFEST)");
    return AppendPromotion(root, name, version);
  }
  return NotFound("dataset " + name + " has no version " + VersionName(version));
}

Result<uint64_t> Rollback(const std::string& root, const std::string& name) {
  ASSIGN_OR_RETURN(auto promotions, Promotions(root, name));
  // The version current before the latest promotion (skipping re-promotions of the same one).
  uint64_t now = promotions.empty() ? 0 : promotions.back();
  for (size_t i = promotions.size(); i-- > 0;) {
    if (promotions[i] != now) {
      RETURN_IF_ERROR(AppendPromotion(root, name, promotions[i]));
      return promotions[i];
    }
  }
  return InvalidArgument("dataset " + name + " has no earlier current version to roll back to");
}

Result<std::vector<uint64_t>> Gc(const std::string& root, const std::string& name, size_t keep) {
  ASSIGN_OR_RETURN(auto versions, ListVersions(root, name));
  ASSIGN_OR_RETURN(uint64_t current, Current(root, name));
  std::vector<uint64_t> kept_complete;
  for (auto it = versions.rbegin(); it != versions.rend() && kept_complete.size() < keep; ++it) {
    if (it->complete) kept_complete.push_back(it->version);
  }
  // Versions newer than the oldest kept one stay (an incomplete one may be a job still writing).
  uint64_t oldest_kept = kept_complete.empty() ? ~uint64_t{0} : kept_complete.back();
  std::vector<uint64_t> deleted;
  for (const auto& v : versions) {
    if (v.version == current || v.version >= oldest_kept) continue;
    RETURN_IF_ERROR(FsRemoveAll(v.path));
    deleted.push_back(v.version);
  }
  // Reservations of versions older than a kept one are history (a newer one stays, so no version
  // number is ever chosen twice).
  if (kept_complete.empty()) return deleted;
  const std::string reserved = JoinPath(DatasetDir(root, name), kReserved);
  ASSIGN_OR_RETURN(auto taken, ListNames(reserved));
  for (const auto& n : taken) {
    uint64_t v;
    if (ParseNumber(n, 8, &v) && v < oldest_kept && v != current) RETURN_IF_ERROR(FsRemoveAll(JoinPath(reserved, n)));
  }
  return deleted;
}

namespace {

// Counts the data blocks a lookup reads (each block is one ReadAt past the footer and index).
class CountingFile final : public ReadableFile {
 public:
  explicit CountingFile(std::unique_ptr<ReadableFile> f) : f_(std::move(f)) {}
  Status ReadAt(uint64_t offset, size_t n, char* dst) override {
    ++reads_;
    return f_->ReadAt(offset, n, dst);
  }
  uint64_t size() const override { return f_->size(); }
  const std::string& path() const override { return f_->path(); }
  uint64_t reads() const { return reads_; }

 private:
  std::unique_ptr<ReadableFile> f_;
  uint64_t reads_ = 0;
};

Result<Manifest> ReadVersionManifest(const std::string& dir) {
  auto m = ReadManifest(JoinPath(dir, kManifestName));
  if (!m.ok()) return NotFound(dir + " is not a complete dataset version: " + m.status().message());
  return m;
}

}  // namespace

Result<Lookup> Get(const std::string& version_dir, std::string_view key) {
  ASSIGN_OR_RETURN(Manifest m, ReadVersionManifest(version_dir));
  if (!m.sorted) return InvalidArgument(version_dir + " is not sorted by key; get needs a sorted dataset");
  std::vector<const PartInfo*> candidates;
  int n = m.num_partitions;
  int want = -1;
  if (m.partitioner == "hash" && n > 0) want = HashPartitioner().Partition(key, n);
  if (m.partitioner == "range" && n > 0) want = RangePartitioner(m.split_points).Partition(key, n);
  for (const auto& p : m.parts) {
    if (want < 0 || p.partition == want) candidates.push_back(&p);
  }
  Lookup out;
  for (const PartInfo* p : candidates) {
    std::string path = JoinPath(version_dir, p->name);
    ASSIGN_OR_RETURN(auto raw, OpenReadable(path));
    auto counting = std::make_unique<CountingFile>(std::move(raw));
    CountingFile* counter = counting.get();
    ASSIGN_OR_RETURN(auto reader, RecordFileReader::Open(std::move(counting)));
    uint64_t before = counter->reads();  // footer and index
    RecordIterator it = reader->NewIterator();
    RETURN_IF_ERROR(it.Seek(key));
    while (it.Next() && it.key() == key) out.values.emplace_back(it.value());
    RETURN_IF_ERROR(it.status());
    out.blocks_read += counter->reads() - before;
    if (!out.values.empty()) {
      out.part = p->name;
      break;
    }
  }
  return out;
}

namespace {

// The records of some parts of a sorted version, merged in key order (equal keys in part order).
// A key's records are all in one part when the version is partitioned by key, so merging the
// parts gives the version's records sorted as one.
class PartsInKeyOrder {
 public:
  static Result<std::unique_ptr<PartsInKeyOrder>> Open(const std::string& dir, const std::vector<PartInfo>& parts) {
    std::unique_ptr<PartsInKeyOrder> m(new PartsInKeyOrder);
    for (const auto& p : parts) {
      ASSIGN_OR_RETURN(auto reader, RecordFileReader::Open(JoinPath(dir, p.name)));
      m->iters_.push_back(std::make_unique<RecordIterator>(reader->NewIterator()));
      m->readers_.push_back(std::move(reader));
    }
    for (size_t i = 0; i < m->iters_.size(); ++i) RETURN_IF_ERROR(m->Advance(i));
    return m;
  }
  // Advances; false at the end or on error (status()).
  bool Next() {
    if (current_ != kNone && !Advance(current_).ok()) return false;
    if (heap_.empty()) {
      current_ = kNone;
      return false;
    }
    std::pop_heap(heap_.begin(), heap_.end(), Later{this});
    current_ = heap_.back();
    heap_.pop_back();
    return true;
  }
  std::string_view key() const { return iters_[current_]->key(); }
  std::string_view value() const { return iters_[current_]->value(); }
  const Status& status() const { return status_; }

 private:
  static constexpr size_t kNone = ~size_t{0};
  struct Later {  // heap order: the smallest key (then part) on top
    const PartsInKeyOrder* m;
    bool operator()(size_t a, size_t b) const {
      const int c = m->iters_[a]->key().compare(m->iters_[b]->key());
      return c != 0 ? c > 0 : a > b;
    }
  };
  PartsInKeyOrder() = default;
  // Moves part i to its next record and back into the heap, if it has one.
  Status Advance(size_t i) {
    if (iters_[i]->Next()) {
      heap_.push_back(i);
      std::push_heap(heap_.begin(), heap_.end(), Later{this});
      return Status::Ok();
    }
    return status_ = iters_[i]->status();
  }
  std::vector<std::unique_ptr<RecordFileReader>> readers_;
  std::vector<std::unique_ptr<RecordIterator>> iters_;
  std::vector<size_t> heap_;
  size_t current_ = kNone;
  Status status_;
};

// Adds what changed from `a`'s records to `b`'s (both in key order) to `d`.
Status DiffStreams(PartsInKeyOrder& a, PartsInKeyOrder& b, size_t examples, Diff* d) {
  auto note = [&](std::vector<std::string>* list, std::string_view k) {
    if (list->size() < examples) list->emplace_back(k);
  };
  bool ha = a.Next(), hb = b.Next();
  // One key's values from a stream, advancing it past them.
  auto group = [](PartsInKeyOrder& s, bool* has, std::string* key, std::vector<std::string>* values) {
    key->assign(s.key());
    values->clear();
    while (*has && s.key() == *key) {
      values->emplace_back(s.value());
      *has = s.Next();
    }
  };
  std::string ka, kb;
  std::vector<std::string> va, vb;
  while (ha || hb) {
    int c = !ha ? 1 : !hb ? -1 : a.key().compare(b.key());
    if (c < 0) {
      group(a, &ha, &ka, &va);
      ++d->removed;
      note(&d->removed_keys, ka);
    } else if (c > 0) {
      group(b, &hb, &kb, &vb);
      ++d->added;
      note(&d->added_keys, kb);
    } else {
      group(a, &ha, &ka, &va);
      group(b, &hb, &kb, &vb);
      if (va == vb) {
        ++d->unchanged;
      } else {
        ++d->changed;
        note(&d->changed_keys, ka);
      }
    }
  }
  RETURN_IF_ERROR(a.status());
  return b.status();
}

bool PartitionedByKey(const Manifest& m) { return m.partitioner == "hash" || m.partitioner == "range"; }

}  // namespace

Result<Diff> DiffVersions(const std::string& from_dir, const std::string& to_dir, size_t examples) {
  ASSIGN_OR_RETURN(Manifest a, ReadVersionManifest(from_dir));
  ASSIGN_OR_RETURN(Manifest b, ReadVersionManifest(to_dir));
  for (const auto* m : {&a, &b}) {
    if (!m->sorted || (m->parts.size() > 1 && !PartitionedByKey(*m))) {
      return InvalidArgument("diff needs versions sorted by key, in one part or partitioned by key (" +
                             (m == &a ? from_dir : to_dir) + " is " + (m->sorted ? "" : "unsorted, ") +
                             m->partitioner + "/" + std::to_string(m->num_partitions) + ")");
    }
  }
  Diff d;
  const bool alike = a.partitioner == b.partitioner && a.num_partitions == b.num_partitions &&
                     a.split_points == b.split_points && a.parts.size() == b.parts.size();
  if (alike) {
    // Part i of one holds the keys of part i of the other: diff them pairwise.
    for (size_t i = 0; i < a.parts.size(); ++i) {
      ASSIGN_OR_RETURN(auto sa, PartsInKeyOrder::Open(from_dir, {a.parts[i]}));
      ASSIGN_OR_RETURN(auto sb, PartsInKeyOrder::Open(to_dir, {b.parts[i]}));
      RETURN_IF_ERROR(DiffStreams(*sa, *sb, examples, &d));
    }
    return d;
  }
  // Partitioned differently (another --reducers, hash against range): merge each side's parts.
  ASSIGN_OR_RETURN(auto sa, PartsInKeyOrder::Open(from_dir, a.parts));
  ASSIGN_OR_RETURN(auto sb, PartsInKeyOrder::Open(to_dir, b.parts));
  RETURN_IF_ERROR(DiffStreams(*sa, *sb, examples, &d));
  return d;
}

}  // namespace sawmill::datasets
