// JoinBuffer's cold paths: arena growth capped at the budget, the spill file's life cycle
// (created on a key's first overflow, finished on its first replay, removed on Clear).
#include "join/join_buffer.h"

#include <algorithm>

#include "common/local_fs.h"

namespace sawmill {

JoinBuffer::JoinBuffer(Options options) : options_(std::move(options)) {}

JoinBuffer::~JoinBuffer() { ResetSpill(); }

// Doubling, capped by what the key can still use: a key that nearly fills the budget must not
// allocate twice it. Each cap is a true bound for the rest of the key (the other part only
// grows), so growth never degrades to one row at a time. Capacity is kept across keys.
void JoinBuffer::GrowArena(size_t row_bytes) {
  const size_t need = arena_.size() + row_bytes;  // <= limit: Add checked the charge
  const size_t limit = options_.memory_bytes - ends_.size() * kRowOverhead;
  const size_t cap = std::max({need, arena_.capacity() * 2, size_t{4096}});
  arena_.reserve(std::min(cap, limit));
}

void JoinBuffer::GrowEnds() {
  const size_t need = ends_.size() + 1;  // <= limit: Add checked the charge
  const size_t limit = (options_.memory_bytes - arena_.size()) / kRowOverhead;
  const size_t cap = std::max({need, ends_.capacity() * 2, size_t{256}});
  ends_.reserve(std::min(cap, limit));
}

Status JoinBuffer::Spill(std::string_view row) {
  // From the first overflow on, every row of the key goes here, keeping replay in Add order.
  spilling_ = true;
  if (!error_.ok()) return error_;
  if (!writer_) {
    if (options_.spill_path.empty()) {
      return error_ = InvalidArgument(
                 "join buffer: the rows of one key exceed the memory budget of " +
                 std::to_string(options_.memory_bytes) + " bytes and no spill path is set");
    }
    RecordFileOptions ro;
    ro.block_bytes = options_.block_bytes;
    ro.compress = options_.compress_spill;
    auto w = RecordFileWriter::Create(options_.spill_path, ro);
    if (!w.ok()) return error_ = w.status().WithContext("join buffer spill");
    writer_ = std::move(*w);
    file_created_ = true;
  }
  Status s = writer_->Add(std::string_view(), row);
  if (!s.ok()) return error_ = s.WithContext("join buffer spill");
  ++spilled_rows_;
  spilled_bytes_ += row.size();
  return Status::Ok();
}

Status JoinBuffer::OpenSpill() {
  if (reader_) return Status::Ok();
  Status s = writer_->Finish();
  writer_.reset();
  if (s.ok()) {
    auto r = RecordFileReader::Open(options_.spill_path);
    if (r.ok()) {
      reader_ = std::move(*r);
    } else {
      s = r.status();
    }
  }
  if (s.ok() && reader_->info().record_count != spilled_rows_) {
    s = Corruption(options_.spill_path + ": holds " + std::to_string(reader_->info().record_count) +
                   " rows, " + std::to_string(spilled_rows_) + " were spilled");
  }
  if (!s.ok()) {
    reader_.reset();
    return error_ = s.WithContext("join buffer spill");
  }
  return Status::Ok();
}

Status JoinBuffer::CheckReplay(const Status& iter_status, uint64_t rows_read) {
  if (!iter_status.ok()) return error_ = iter_status.WithContext("join buffer spill");
  if (rows_read != spilled_rows_) {
    return error_ = Corruption("join buffer spill: " + options_.spill_path + ": read back " +
                               std::to_string(rows_read) + " of " + std::to_string(spilled_rows_) +
                               " rows");
  }
  return Status::Ok();
}

void JoinBuffer::ResetSpill() {
  writer_.reset();
  reader_.reset();
  if (file_created_) {
    Status s = FsRemoveAll(options_.spill_path);
    if (!s.ok()) LOG(WARNING) << "join buffer: cannot remove spill: " << s.ToString();
    file_created_ = false;
  }
  spilling_ = false;
  spilled_rows_ = 0;
  spilled_bytes_ = 0;
  error_ = Status::Ok();
}

}  // namespace sawmill
