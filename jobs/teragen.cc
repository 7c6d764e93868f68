// teragen: writes N deterministic 100-byte records as text lines: 10 printable key bytes, two
// spaces, the row number as 32 hex digits, two spaces, 53 filler bytes, '\n'. Row r is the same
// whatever --parts is, so outputs with different part counts concatenate to the same bytes.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>
#include <vector>

#include <gflags/gflags.h>

#include "api/mapreduce.h"

DEFINE_uint64(records, 1000000, "Number of 100-byte records to generate.");
DEFINE_int32(parts, 2, "Number of output files (written in parallel).");
// --output (a directory of part-NNNNN files of raw records), --seed and --overwrite are the
// common job flags.
DECLARE_string(output);
DECLARE_uint64(seed);
DECLARE_bool(overwrite);

namespace {

uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

void MakeRecord(uint64_t row, uint64_t seed, char* r) {
  uint64_t a = Mix(row ^ Mix(seed)), b = Mix(a);
  for (int i = 0; i < 10; ++i) {
    uint64_t& src = i < 5 ? a : b;
    r[i] = static_cast<char>(' ' + src % 95);
    src /= 95;
  }
  r[10] = r[11] = ' ';
  static const char kHex[] = "0123456789ABCDEF";
  for (int i = 0; i < 32; ++i) r[12 + i] = i < 16 ? '0' : kHex[(row >> (4 * (31 - i))) & 15];
  r[44] = r[45] = ' ';
  for (int i = 0; i < 53; ++i) r[46 + i] = kHex[(row + static_cast<uint64_t>(i / 4)) & 15];
  r[99] = '\n';
}

int Generate(const std::string& dir, uint64_t n, int parts, uint64_t seed) {
  std::vector<std::thread> threads;
  std::atomic<bool> ok{true};
  for (int p = 0; p < parts; ++p) {
    threads.emplace_back([&, p] {
      uint64_t begin = n * static_cast<uint64_t>(p) / static_cast<uint64_t>(parts);
      uint64_t end = n * static_cast<uint64_t>(p + 1) / static_cast<uint64_t>(parts);
      char name[32];
      std::snprintf(name, sizeof name, "part-%05d", p);
      std::string path = dir + "/" + name;
      FILE* f = std::fopen(path.c_str(), "wb");
      if (!f) {
        std::perror(path.c_str());
        ok = false;
        return;
      }
      std::vector<char> buf(100 * 8192);
      uint64_t row = begin;
      while (row < end) {
        size_t k = 0;
        for (; k < 8192 && row < end; ++k, ++row) MakeRecord(row, seed, buf.data() + 100 * k);
        if (std::fwrite(buf.data(), 100, k, f) != k) ok = false;
      }
      if (std::fclose(f) != 0) ok = false;
    });
  }
  for (auto& t : threads) t.join();
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  sawmill::ParseJobFlags(&argc, &argv, "teragen: generates deterministic 100-byte TeraSort records.");
  if (FLAGS_output.empty() || FLAGS_parts < 1) {
    std::fprintf(stderr, "error: give --output DIR and --parts >= 1 (see --help)\n");
    return 2;
  }
  if (FLAGS_output.rfind("dfs:", 0) == 0 || FLAGS_output.rfind("dataset:", 0) == 0) {
    std::fprintf(stderr, "error: teragen writes a local directory; --output %s is not one (generate locally, then "
                 "sawmill dfs put)\n", FLAGS_output.c_str());
    return 2;
  }
  namespace fs = std::filesystem;
  if (fs::exists(FLAGS_output)) {
    if (!FLAGS_overwrite) {
      std::fprintf(stderr, "error: output %s exists (pass --overwrite to replace it)\n", FLAGS_output.c_str());
      return 2;
    }
    fs::remove_all(FLAGS_output);
  }
  fs::create_directories(FLAGS_output);
  auto start = std::chrono::steady_clock::now();
  int rc = Generate(FLAGS_output, FLAGS_records, FLAGS_parts, FLAGS_seed);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("summary job=teragen status=%s records_in=0 records_out=%llu bytes_in=0 bytes_out=%llu seconds=%.3f\n",
              rc == 0 ? "ok" : "failed", static_cast<unsigned long long>(FLAGS_records),
              static_cast<unsigned long long>(FLAGS_records * 100), s);
  return rc;
}
