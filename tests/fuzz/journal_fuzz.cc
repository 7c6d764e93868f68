// Fuzz target: a namenode restarting on a damaged journal. The input becomes the journal of an
// empty metadata directory and NamespaceStore::Open recovers from it: the journal reader, the
// Cap'n Proto record decoding and the replay of every record that passes. The first input byte
// chooses whether record checksums are recomputed first, so mutations reach the decoding and
// the namespace logic behind the checksums. Any outcome but a crash is fine.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <glog/logging.h>

#include "common/checksum.h"
#include "common/coding.h"
#include "common/file.h"
#include "common/journal.h"
#include "dfs/namenode/namespace_store.h"

namespace {

// Never destroyed, so that the exit handler that removes it can still name it.
const std::string& Dir() {
  static const std::string* dir = [] {
    FLAGS_minloglevel = google::GLOG_ERROR;  // recovery warnings on every run would drown the output
    std::string t = (std::filesystem::temp_directory_path() / "journal_fuzz.XXXXXX").string();
    auto* made = new std::string(::mkdtemp(t.data()));
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(Dir(), ec);
    });
    return made;
  }();
  return *dir;
}

// Recomputes each record's checksum, walking the records by their (possibly mutated) lengths.
void FixChecksums(std::string& s) {
  size_t pos = 0;
  while (s.size() - pos >= sawmill::kJournalHeaderBytes) {
    uint32_t len = sawmill::DecodeFixed32(s.data() + pos);
    if (len > s.size() - pos - sawmill::kJournalHeaderBytes) return;
    uint64_t sum = sawmill::Checksum64(s.data() + pos, 4, s.data() + pos + 12, len);
    sawmill::EncodeFixed64(s.data() + pos + 4, sum);
    pos += sawmill::kJournalHeaderBytes + len;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string journal(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 1) FixChecksums(journal);
  const std::string& dir = Dir();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  (void)sawmill::WriteStringToFile(dir + "/journal.00000000000000000001", journal);
  auto store = sawmill::dfs::NamespaceStore::Open(dir);
  if (store.ok()) (void)(*store)->Dump();
  return 0;
}

std::vector<std::string> FuzzSeeds() {
  std::string dir = Dir() + "-seed";
  std::filesystem::remove_all(dir);
  {
    auto store = sawmill::dfs::NamespaceStore::Open(dir);
    if (!store.ok()) std::abort();
    auto& s = **store;
    (void)s.Mkdirs("/a/b", 1);
    (void)s.Create("/a/b/f", "client", 3, 1 << 20, 2);
    (void)s.AddBlock("/a/b/f", "client");
    (void)s.AddBlock("/a/b/f", "client");
    (void)s.Complete("/a/b/f", "client", {1 << 20, 5}, 3);
    (void)s.Rename("/a/b", "/c", 4);
    (void)s.Create("/c/g", "other", 1, 4096, 5);
    (void)s.SetReplication("/c/f", 2);
    (void)s.Delete("/c", true, 6);
  }
  std::string journal;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().filename().string().rfind("journal.", 0) == 0) {
      (void)sawmill::ReadFileToString(e.path().string(), &journal);
    }
  }
  std::filesystem::remove_all(dir);
  return {std::string(1, '\0') + journal, std::string(1, '\1') + journal};
}
