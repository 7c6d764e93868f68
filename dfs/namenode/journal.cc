// Journal file writing and recovery.
#include "dfs/namenode/journal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <glog/logging.h>

#include "common/checksum.h"
#include "common/coding.h"
#include "common/file.h"

namespace sawmill::dfs {

Result<std::unique_ptr<JournalWriter>> JournalWriter::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("cannot open journal", path, errno);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoError("cannot stat journal", path, err);
  }
  return std::unique_ptr<JournalWriter>(new JournalWriter(path, fd, st.st_size));
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

Status JournalWriter::Sync() {
  if (!failed_.ok()) return failed_;
  size_t done = 0;
  while (done < pending_.size()) {
    ssize_t n = ::write(fd_, pending_.data() + done, pending_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      failed_ = ErrnoError("cannot append to journal", path_, errno);
      return failed_;
    }
    done += n;
  }
  size_ += pending_.size();
  pending_.clear();
  if (::fdatasync(fd_) != 0) failed_ = ErrnoError("cannot sync journal", path_, errno);
  return failed_;
}

Result<JournalReadResult> ReadJournal(const std::string& path,
                                      const std::function<Status(std::string_view payload)>& fn,
                                      bool truncate) {
  std::string data;
  RETURN_IF_ERROR(ReadFileToString(path, &data));
  JournalReadResult result;
  uint64_t pos = 0;
  while (pos < data.size()) {
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

}  // namespace sawmill::dfs
