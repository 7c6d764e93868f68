// Fuzz target: `sawmill index query` over damaged index records (index/search_index.h). The
// input is a list of records (1-byte key length, key, 2-byte little-endian value length, value),
// written sorted into one index part; AND and OR queries, pruned and exhaustive, run over it.
// Errors are fine; they must be kCorruption. (Damage the format cannot see, such as one document in
// two layers of a term, may rank differently in the two modes; the unit tests compare them on
// well-formed indexes.)
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "index/search_index.h"
#include "records/record_file.h"

namespace {

using namespace sawmill;

// Never destroyed, so that the exit handler that removes it can still name it.
const std::string& Dir() {
  static const std::string* dir = [] {
    std::string t = (std::filesystem::temp_directory_path() / "search_index_fuzz.XXXXXX").string();
    if (::mkdtemp(t.data()) == nullptr) std::abort();
    auto* made = new std::string(t);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(Dir(), ec);
    });
    return made;
  }();
  return *dir;
}

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "search_index_fuzz: %s\n", what);
    std::abort();
  }
}

std::string Serialize(const std::map<std::string, std::string>& records) {
  std::string s;
  for (const auto& [k, v] : records) {
    s.push_back(static_cast<char>(k.size()));
    s += k;
    s.push_back(static_cast<char>(v.size() & 0xff));
    s.push_back(static_cast<char>(v.size() >> 8));
    s += v;
  }
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::map<std::string, std::string> records;  // sorted, as the writer requires
  const char* p = reinterpret_cast<const char*>(data);
  size_t left = size;
  while (left > 0) {
    size_t klen = static_cast<uint8_t>(p[0]);
    if (left < 1 + klen + 2) break;
    std::string key(p + 1, klen);
    size_t vlen = static_cast<uint8_t>(p[1 + klen]) | static_cast<size_t>(static_cast<uint8_t>(p[2 + klen])) << 8;
    if (left < 3 + klen + vlen) vlen = left - 3 - klen;
    records[key] = std::string(p + 3 + klen, vlen);
    p += 3 + klen + vlen;
    left -= 3 + klen + vlen;
  }
  const std::string path = Dir() + "/part-00000";
  {
    RecordFileOptions options;
    options.sorted = true;
    options.block_bytes = 256;
    auto writer = RecordFileWriter::Create(path, options);
    Check(writer.ok(), "cannot create the part");
    for (const auto& [k, v] : records) Check((*writer)->Add(k, v).ok(), "cannot write a record");
    Check((*writer)->Finish().ok(), "cannot finish the part");
  }
  auto reader = RecordFileReader::Open(path);
  Check(reader.ok(), "cannot reopen the part");
  search::PartForKey parts = [&](std::string_view) -> Result<const RecordFileReader*> { return reader->get(); };
  for (const auto& terms : std::vector<std::vector<std::string>>{{"x"}, {"x", "y"}, {"y", "x", "z"}}) {
    for (bool any : {false, true}) {
      for (size_t k : {2, 1000}) {
        search::QueryOptions options;
        options.any = any;
        options.k = k;
        auto pruned = search::Query(parts, terms, options, nullptr);
        options.exhaustive = true;
        auto exhaustive = search::Query(parts, terms, options, nullptr);
        for (const auto* r : {&pruned, &exhaustive}) {
          Check(r->ok() || r->status().code() == StatusCode::kCorruption, "an error that is not kCorruption");
        }
      }
    }
  }
  return 0;
}

std::vector<std::string> FuzzSeeds() {
  std::map<std::string, std::string> records = {{"", "9"}};
  for (uint64_t d = 1; d <= 6; ++d) records[search::DocKey(d)] = std::string(1, static_cast<char>('a' + d - 1));
  auto add = [&](const std::string& term, std::vector<search::Posting> postings, size_t chunk) {
    search::EncodeTerm(term, &postings, chunk, [&](std::string_view k, std::string_view v) { records[std::string(k)] = v; });
  };
  add("x", {{1, 1}, {2, 2}, {3, 1}, {4, 3}, {5, 1}}, 2);
  add("y", {{2, 1}, {3, 1}, {5, 2}, {6, 1}}, 1);
  add("z", {{1, 4}, {6, 1}}, 3);
  return {Serialize(records)};
}
