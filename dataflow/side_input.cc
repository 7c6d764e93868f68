#include "dataflow/side_input.h"

#include <algorithm>
#include <stdexcept>

#include "common/file.h"
#include "common/local_fs.h"
#include "mapreduce/input_split.h"
#include "records/record_file.h"

namespace sawmill::df::internal {

struct SortedPartReader::Impl {
  std::unique_ptr<RecordFileReader> reader;
  std::unique_ptr<RecordIterator> it;
  std::string path;
};

SortedPartReader::SortedPartReader(const std::string& dir, const std::string& part_name) : impl_(new Impl) {
  impl_->path = JoinPath(dir, part_name);
  auto r = RecordFileReader::Open(impl_->path);
  if (!r.ok()) throw std::runtime_error("map-side join: " + r.status().ToString());
  impl_->reader = std::move(r).value();
  impl_->it = std::make_unique<RecordIterator>(impl_->reader->NewIterator());
  Next();
}

SortedPartReader::~SortedPartReader() = default;

std::string_view SortedPartReader::key() const { return impl_->it->key(); }
std::string_view SortedPartReader::value() const { return impl_->it->value(); }
uint64_t SortedPartReader::announced_records() const {
  const RecordFileInfo& info = impl_->reader->info();
  return std::min(info.record_count, info.file_size);
}

void SortedPartReader::Next() {
  valid_ = impl_->it->Next();
  if (!valid_ && !impl_->it->status().ok()) {
    throw std::runtime_error("map-side join: " + impl_->path + ": " + impl_->it->status().ToString());
  }
}

SideTable LoadSideTable(const std::string& dir) {
  SideTable table;
  for (auto& [k, v] : LoadSideRecords(dir)) table[k].push_back(std::move(v));
  return table;
}

std::vector<std::string> SideParts(const std::string& dir) {
  auto files = ExpandInput(dir);
  if (!files.ok()) throw std::runtime_error("broadcast side input: " + files.status().ToString());
  return std::move(files).value();
}

void ForEachPartRecord(const std::string& file, const std::function<void(std::string_view, std::string_view)>& fn,
                       const std::function<void(uint64_t)>& expect) {
  SortedPartReader r(Dirname(file), Basename(file));
  if (expect) expect(r.announced_records());
  for (; r.valid(); r.Next()) fn(r.key(), r.value());
}

void ForEachSideRecord(const std::string& dir, const std::function<void(std::string_view, std::string_view)>& fn) {
  for (const auto& f : SideParts(dir)) ForEachPartRecord(f, fn);
}

std::vector<std::pair<std::string, std::string>> LoadSideRecords(const std::string& dir) {
  std::vector<std::pair<std::string, std::string>> out;
  ForEachSideRecord(dir, [&](std::string_view k, std::string_view v) { out.emplace_back(k, v); });
  return out;
}

}  // namespace sawmill::df::internal
