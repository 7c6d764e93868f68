// Fuzz target for the record file reader (docs/formats/record-file.md): the input bytes are the
// file. Opening, iterating every block, every partition and seeking must never crash; errors are
// fine. Beyond "no crash" it checks what the reader promises: errors are kCorruption and name the
// file; a fully read file yields info().record_count records, block by block the same as in one
// pass; PartitionBlocks matches the index; and Seek lands on the first record >= target.
//
// Built with libFuzzer (clang -fsanitize=fuzzer) this is a standard target; with g++ it is linked
// with fuzz_driver.cc. RecordFileFuzzOutcome() lets that driver tell outcomes apart.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "common/checksum.h"
#include "common/file.h"
#include "records/record_file.h"

namespace {

using namespace sawmill;

// The input goes to one file in a private directory (mkdtemp), rewritten in place per input.
std::string g_dir;
std::string g_path;
int g_fd = -1;
std::string g_outcome;  // kind of the last result: "open: <message shape>", "read: ...", "ok ..."

void RemoveInputFile() {
  if (g_fd >= 0) ::close(g_fd);
  if (!g_path.empty()) ::unlink(g_path.c_str());
  if (!g_dir.empty()) ::rmdir(g_dir.c_str());
}

void SetUpInputFile() {
  const char* tmp = ::getenv("TMPDIR");
  std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/record_file_fuzz.XXXXXX";
  if (!::mkdtemp(tmpl.data())) {
    std::perror("record_file_fuzz: mkdtemp");
    std::abort();
  }
  g_dir = tmpl;
  g_path = g_dir + "/input.rf";
  g_fd = ::open(g_path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (g_fd < 0) {
    std::perror("record_file_fuzz: open");
    std::abort();
  }
  std::atexit(RemoveInputFile);
}

void WriteInput(const uint8_t* data, size_t size) {
  if (g_fd < 0) SetUpInputFile();
  size_t done = 0;
  while (done < size) {
    ssize_t w = ::pwrite(g_fd, data + done, size - done, static_cast<off_t>(done));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      std::perror("record_file_fuzz: pwrite");
      std::abort();
    }
    done += static_cast<size_t>(w);
  }
  if (::ftruncate(g_fd, static_cast<off_t>(size)) != 0) {
    std::perror("record_file_fuzz: ftruncate");
    std::abort();
  }
}

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "record_file_fuzz: broken reader invariant: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

// The message without the path and with digits folded, so that outcomes can be counted.
std::string Shape(std::string_view message) {
  std::string out;
  for (size_t i = 0; i < message.size();) {
    if (message.compare(i, g_path.size(), g_path) == 0) {
      out += "<path>";
      i += g_path.size();
    } else if (message[i] >= '0' && message[i] <= '9') {
      out += '#';
      while (i < message.size() && message[i] >= '0' && message[i] <= '9') ++i;
    } else {
      out += message[i++];
    }
  }
  return out;
}

// A read error: kCorruption naming the file (the file exists and is readable, so nothing else).
void CheckError(const Status& s, const char* stage) {
  if (s.ok()) return;
  if (s.code() != StatusCode::kCorruption) Fail(std::string(stage) + ": not kCorruption: " + s.ToString());
  if (s.message().find(g_path) == std::string::npos) Fail(std::string(stage) + ": message lacks the path: " + s.ToString());
  if (g_outcome.empty()) g_outcome = std::string(stage) + ": " + Shape(s.message());
}

struct Rec {
  std::string key;
  uint64_t value_size;
  uint64_t value_hash;
  bool operator==(const Rec&) const = default;
};

constexpr size_t kMaxKeptBytes = 32 << 20;  // keys kept for the Seek oracle

// Reads blocks [first, end); false on error. Keeps the records in *out while they fit.
bool ReadRange(const RecordFileReader& r, size_t first, size_t end, std::vector<Rec>* out, uint64_t* count,
               bool* kept) {
  RecordIterator it = r.NewIterator(first, end);
  size_t bytes = 0;
  *count = 0;
  *kept = true;
  out->clear();
  while (it.Next()) {
    ++*count;
    if (*kept) {
      bytes += it.key().size() + 32;
      if (bytes > kMaxKeptBytes) {
        *kept = false;
        out->clear();
      } else {
        out->push_back({std::string(it.key()), it.value().size(), Checksum64(it.value())});
      }
    }
  }
  CheckError(it.status(), "read");
  if (it.Next()) Fail("Next() is true after the end");
  return it.status().ok();
}

// Seeks in [first, end) of a sorted file. When `oracle` (the records of those blocks, sorted,
// with index first keys that match the blocks) is given, checks the landing record.
void CheckSeek(const RecordFileReader& r, size_t first, size_t end, std::string_view target, size_t consume,
               const std::vector<Rec>* oracle) {
  RecordIterator it = r.NewIterator(first, end);
  size_t consumed = 0;
  while (consumed < consume && it.Next()) ++consumed;
  if (!it.status().ok()) return;
  Status s = it.Seek(target);
  CheckError(s, "seek");
  if (!s.ok()) return;
  const bool got = it.Next();
  CheckError(it.status(), "seek-read");
  if (!it.status().ok() || !oracle) return;
  // The first record not yet read whose key is >= target.
  size_t want = std::lower_bound(oracle->begin(), oracle->end(), target,
                                 [](const Rec& rec, std::string_view t) { return rec.key < t; }) -
                oracle->begin();
  want = std::max(want, consumed);
  if (want == oracle->size()) {
    if (got) Fail("Seek past the last key still yields a record");
    return;
  }
  if (!got) Fail("Seek reached the end before the first key >= target");
  Rec rec{std::string(it.key()), it.value().size(), Checksum64(it.value())};
  if (!(rec == (*oracle)[want])) Fail("Seek landed on the wrong record");
}

void Check(const RecordFileReader& r, const uint8_t* data, size_t size) {
  const RecordFileInfo& info = r.info();
  const BlockIndex& blocks = r.blocks();
  if (info.file_size != size) Fail("info().file_size differs from the file");
  if (info.version != kRecordFileVersion) Fail("opened an unknown version");
  // The index as Open() promises it: contiguous non-empty blocks in partition order, then the index.
  uint64_t offset = 0, records = 0;
  for (size_t b = 0; b < blocks.size(); ++b) {
    if (blocks[b].offset != offset || blocks[b].record_count == 0) Fail("index not contiguous");
    if (b > 0 && blocks[b].partition < blocks[b - 1].partition) Fail("partitions out of order");
    offset += kBlockHeaderSize + blocks[b].stored_size;
    records += blocks[b].record_count;
  }
  if (offset + kFooterSize > size || records != info.record_count) Fail("index does not add up");

  // 1. Everything in one pass.
  std::vector<Rec> all;
  uint64_t count = 0;
  bool kept = false;
  const bool all_ok = ReadRange(r, 0, blocks.size(), &all, &count, &kept);
  if (all_ok && count != info.record_count) Fail("a full read yields a record count other than the footer's");

  // 2. Block by block (bounded: a crafted index may hold many blocks).
  std::vector<size_t> block_start(blocks.size() + 1, 0);
  for (size_t b = 0; b < blocks.size(); ++b) block_start[b + 1] = block_start[b] + blocks[b].record_count;
  std::vector<Rec> part;
  const size_t step = std::max<size_t>(1, blocks.size() / 64);
  for (size_t b = 0; b < blocks.size(); b += step) {
    uint64_t n = 0;
    bool part_kept = false;
    const bool ok = ReadRange(r, b, b + 1, &part, &n, &part_kept);
    if (all_ok && !ok) Fail("a block fails alone but not in a full read");
    if (ok && n != blocks[b].record_count) Fail("a block yields a record count other than its index entry's");
    if (all_ok && kept && part_kept &&
        !std::equal(part.begin(), part.end(), all.begin() + block_start[b], all.begin() + block_start[b + 1])) {
      Fail("a block read alone differs from the full read");
    }
  }

  // 3. Partitions, and Seek within each (bounded).
  int runs = 0;
  for (size_t first = 0; first < blocks.size() && runs < 16; ++runs) {
    const int32_t p = blocks[first].partition;
    size_t end = first;
    while (end < blocks.size() && blocks[end].partition == p) ++end;
    if (r.PartitionBlocks(p) != std::make_pair(first, end)) Fail("PartitionBlocks disagrees with the index");
    if (p != INT32_MAX && (end == blocks.size() || blocks[end].partition != p + 1)) {
      auto none = r.PartitionBlocks(p + 1);
      if (none.first != none.second) Fail("PartitionBlocks of an absent partition is not empty");
    }

    // The oracle holds when the records are really sorted and the index's first keys are right
    // (the reader trusts both; a crafted file can break them, and then only "no crash" holds).
    const std::vector<Rec>* oracle = nullptr;
    std::vector<Rec> run;
    if (info.sorted && all_ok && kept) {
      run.assign(all.begin() + block_start[first], all.begin() + block_start[end]);
      bool good = std::is_sorted(run.begin(), run.end(), [](const Rec& a, const Rec& b) { return a.key < b.key; });
      for (size_t b = first; good && b < end; ++b) good = blocks[b].first_key == run[block_start[b] - block_start[first]].key;
      if (good) oracle = &run;
    }
    std::vector<std::string> targets = {"", std::string(8, '\xff')};
    targets.emplace_back(reinterpret_cast<const char*>(data), std::min<size_t>(size, 6));
    for (size_t b = first; b < end && b < first + 6; ++b) {
      const std::string first(blocks[b].first_key);
      targets.push_back(first);
      targets.push_back(first + '\0');
      if (!first.empty()) targets.push_back(first.substr(0, first.size() - 1));
    }
    if (oracle && !run.empty()) {
      targets.push_back(run[run.size() / 2].key);
      targets.push_back(run.back().key);
    }
    for (size_t t = 0; t < targets.size(); ++t) {
      if (!info.sorted) {
        RecordIterator it = r.NewIterator(first, end);
        if (it.Seek(targets[t]).code() != StatusCode::kInvalidArgument) Fail("Seek on an unsorted file did not fail");
        break;
      }
      CheckSeek(r, first, end, targets[t], 0, oracle);
      if (t % 3 == 0) CheckSeek(r, first, end, targets[t], 1 + t % 7, oracle);  // forward seek
    }
    first = end;
  }
  if (g_outcome.empty()) {
    g_outcome = std::string("ok") + (info.sorted ? " sorted" : "") + (blocks.empty() ? " empty" : "") +
                (runs > 1 ? " partitions" : "");
  }
}

}  // namespace

// The kind of outcome of the last input (for drivers without coverage feedback).
extern "C" const char* RecordFileFuzzOutcome() { return g_outcome.c_str(); }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  g_outcome.clear();
  WriteInput(data, size);
  auto reader = RecordFileReader::Open(g_path);
  if (!reader.ok()) {
    CheckError(reader.status(), "open");
    return 0;
  }
  Check(**reader, data, size);
  return 0;
}
