// Journal file writing and recovery.
#include "common/journal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include <glog/logging.h>

#include "common/checksum.h"
#include "common/coding.h"
#include "common/file.h"

namespace sawmill {

Result<std::unique_ptr<JournalWriter>> JournalWriter::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("cannot open journal", path, errno);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoError("cannot stat journal", path, err);
  }
  // Appends continue after the last valid record, over the preallocated zeros.
  auto read = ReadJournal(path, [](std::string_view) { return Status::Ok(); }, /*truncate=*/false);
  if (!read.ok()) {
    ::close(fd);
    return read.status();
  }
  if (read->dropped_bytes > 0) {
    ::close(fd);
    return Internal(path + ": opened for appending with a torn tail: " + read->drop_reason);
  }
  return std::unique_ptr<JournalWriter>(new JournalWriter(path, fd, read->valid_bytes, st.st_size));
}

Status JournalWriter::WriteAt(uint64_t offset, const char* data, size_t n) {
  while (n > 0) {
    ssize_t w = ::pwrite(fd_, data, n, static_cast<off_t>(offset));
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return ErrnoError("cannot write journal", path_, errno);
    data += w;
    offset += w;
    n -= static_cast<size_t>(w);
  }
  return Status::Ok();
}

JournalWriter::~JournalWriter() { ::close(fd_); }

void JournalWriter::Append(std::string_view payload) {
  CHECK_LE(payload.size(), kMaxJournalPayload) << path_;
  char header[kJournalHeaderBytes];
  EncodeFixed32(header, static_cast<uint32_t>(payload.size()));
  EncodeFixed64(header + 4, Checksum64(header, 4, payload.data(), payload.size()));
  pending_.append(header, sizeof(header));
  pending_.append(payload);
}

Status JournalWriter::Reserve(uint64_t need) {
  if (need <= allocated_) return Status::Ok();
  const uint64_t target = (need + kJournalPreallocBytes - 1) / kJournalPreallocBytes * kJournalPreallocBytes;
  const std::string zeros(kJournalPreallocBytes, '\0');
  for (uint64_t off = allocated_; off < target; off += zeros.size()) {
    failed_ = WriteAt(off, zeros.data(), static_cast<size_t>(std::min<uint64_t>(zeros.size(), target - off)));
    if (!failed_.ok()) return failed_;
  }
  allocated_ = target;
  return Status::Ok();
}

Status JournalWriter::AppendReserved(std::string_view payload) {
  if (!failed_.ok()) return failed_;
  // One extra zero header past the records keeps the end marker in place when they fill it.
  RETURN_IF_ERROR(Reserve(size_ + pending_.size() + kJournalHeaderBytes + payload.size() + kJournalHeaderBytes));
  Append(payload);
  return Status::Ok();
}

// The buffer leaves with the batch: one a compaction filled with the whole live state is not
// kept for as long as the journal is open.
JournalWriter::Batch JournalWriter::TakePending() {
  Batch batch{size_, std::move(pending_)};
  pending_ = std::string();
  size_ += batch.bytes.size();
  return batch;
}

Status JournalWriter::WriteDurably(const Batch& batch) {
  RETURN_IF_ERROR(WriteAt(batch.offset, batch.bytes.data(), batch.bytes.size()));
  if (::fdatasync(fd_) != 0) return ErrnoError("cannot sync journal", path_, errno);
  return Status::Ok();
}

Status JournalWriter::Sync() {
  if (!failed_.ok()) return failed_;
  // Zeros first, so the record bytes land on allocated, initialized blocks. One extra zero
  // header past the records keeps the end marker in place when the records fill it.
  RETURN_IF_ERROR(Reserve(size_ + pending_.size() + kJournalHeaderBytes));
  failed_ = WriteDurably(TakePending());
  return failed_;
}

Result<JournalReadResult> ReadJournal(const std::string& path,
                                      const std::function<Status(std::string_view payload)>& fn,
                                      bool truncate) {
  std::string data;
  RETURN_IF_ERROR(ReadFileToString(path, &data));
  JournalReadResult result;
  uint64_t pos = 0;
  bool zero_end = false;
  while (pos < data.size()) {
    if (data.size() - pos >= kJournalHeaderBytes &&
        data.find_first_not_of('\0', pos) >= pos + kJournalHeaderBytes) {
      zero_end = true;  // the end marker; what follows must be preallocated zeros
      break;
    }
    if (data.size() - pos < kJournalHeaderBytes) {
      result.drop_reason = path + ": truncated record header at offset " + std::to_string(pos);
      break;
    }
    uint32_t len = DecodeFixed32(data.data() + pos);
    if (len > kMaxJournalPayload || data.size() - pos - kJournalHeaderBytes < len) {
      result.drop_reason = path + ": truncated or oversized record (length " + std::to_string(len) +
                           ") at offset " + std::to_string(pos);
      break;
    }
    const char* payload = data.data() + pos + kJournalHeaderBytes;
    if (Checksum64(data.data() + pos, 4, payload, len) != DecodeFixed64(data.data() + pos + 4)) {
      result.drop_reason = path + ": checksum mismatch in record at offset " + std::to_string(pos);
      break;
    }
    RETURN_IF_ERROR(fn(std::string_view(payload, len)));
    ++result.records;
    pos += kJournalHeaderBytes + len;
  }
  result.valid_bytes = pos;
  result.dropped_bytes = data.size() - pos;
  if (zero_end) {
    size_t junk = data.find_first_not_of('\0', pos);
    if (junk == std::string::npos) {
      result.dropped_bytes = 0;
    } else {
      result.drop_reason = path + ": non-zero bytes at offset " + std::to_string(junk) + " after the end of the records";
    }
  }
  if (truncate && result.dropped_bytes > 0) {
    // Durably: a later append must not land after a tail that reappears on a crash.
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return ErrnoError("cannot open journal", path, errno);
    int rc = ::ftruncate(fd, static_cast<off_t>(pos));
    if (rc == 0) rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) return ErrnoError("cannot truncate journal", path, err);
  }
  return result;
}

}  // namespace sawmill
