// A standalone driver for LLVMFuzzerTestOneInput, since g++ has no libFuzzer: it generates a seed
// corpus of valid record files with RecordFileWriter, then mutates them for a bounded time.
//
//   record_file_fuzz [--seconds N] [--seed S] [--runs N] [--max_len N] [-v]   fuzz
//   record_file_fuzz FILE...                                                  replay inputs
//
// Mutations are generic (bit flips, byte sets, truncation, insertion and deletion of ranges,
// splicing two inputs, 4/8-byte fields set to interesting values or nudged) and format-aware:
// field writes prefer the offsets of footer, index and block header fields, and half of the
// mutants get their checksums recomputed so that they get past the checksums into the parsing
// behind them. Without coverage feedback, the target's outcome kind (RecordFileFuzzOutcome: which
// error, or which kind of valid file) stands in for it: an input with a new outcome joins the pool.
// The input sequence depends only on --seed, so `--seed S --runs N` replays a run. A crashing
// input is written to ./record_file_fuzz-crash-PID.rf.
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
#include <fcntl.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "common/checksum.h"
#include "common/coding.h"
#include "common/file.h"
#include "records/record_file.h"

#if defined(__SANITIZE_ADDRESS__)  // g++ -fsanitize=address
#define SAWMILL_FUZZ_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)  // clang
#define SAWMILL_FUZZ_ASAN 1
#endif
#endif
#ifdef SAWMILL_FUZZ_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" __attribute__((weak)) const char* RecordFileFuzzOutcome();

namespace {

using namespace sawmill;

// ---------------------------------------------------------------------------------------------
// Crash reporting: the input being run is saved when the process dies.

const std::string* g_current = nullptr;
char g_crash_path[256];

void WriteStderr(const char* s) { (void)!::write(2, s, std::strlen(s)); }

void SaveCurrentInput() {
  static volatile sig_atomic_t saved = 0;
  if (saved || !g_current) return;
  saved = 1;
  int fd = ::open(g_crash_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  (void)!::write(fd, g_current->data(), g_current->size());
  ::close(fd);
  WriteStderr("record_file_fuzz: crashing input saved to ");
  WriteStderr(g_crash_path);
  WriteStderr(" (replay: record_file_fuzz FILE)\n");
}

void OnSignal(int sig) {
  SaveCurrentInput();
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

void InstallCrashHandlers() {
  std::snprintf(g_crash_path, sizeof g_crash_path, "record_file_fuzz-crash-%d.rf", static_cast<int>(::getpid()));
  ::signal(SIGABRT, OnSignal);  // failed invariants; sanitizers leave SIGABRT alone
#ifdef SAWMILL_FUZZ_ASAN
  __sanitizer_set_death_callback(SaveCurrentInput);  // ASan/UBSan reports, SEGV under ASan
#else
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL}) ::signal(sig, OnSignal);
#endif
}

int RunOne(const std::string& input) {
  g_current = &input;
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
  g_current = nullptr;
  return 0;
}

std::string Outcome() { return RecordFileFuzzOutcome ? RecordFileFuzzOutcome() : ""; }

// ---------------------------------------------------------------------------------------------
// Seed corpus: small valid files of every shape.

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "record_file_fuzz: %s\n", what.c_str());
  std::exit(2);
}

void Ok(const Status& s) {
  if (!s.ok()) Die("cannot write a seed: " + s.ToString());
}

std::string Bytes(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

std::string Text(std::mt19937_64& rng, size_t n) {
  static const char* kWords[] = {"map ", "reduce ", "shuffle ", "sort ", "spill ", "merge "};
  std::string s;
  while (s.size() < n) s += kWords[rng() % 6];
  s.resize(n);
  return s;
}

std::string Key(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "k%04d", i);
  return buf;
}

template <typename Fill>
std::string MakeFile(const std::string& dir, const RecordFileOptions& options, Fill fill) {
  static int n = 0;
  const std::string path = JoinPath(dir, "seed" + std::to_string(n++) + ".rf");
  auto w = RecordFileWriter::Create(path, options);
  if (!w.ok()) Die("cannot create a seed: " + w.status().ToString());
  fill(**w);
  Ok((*w)->Finish());
  std::string bytes;
  Ok(ReadFileToString(path, &bytes));
  Ok(RemoveAll(path));
  return bytes;
}

std::vector<std::string> MakeSeeds() {
  const char* tmp = ::getenv("TMPDIR");
  std::string dir = std::string(tmp && *tmp ? tmp : "/tmp") + "/record_file_fuzz_seeds.XXXXXX";
  if (!::mkdtemp(dir.data())) Die("mkdtemp failed");
  std::mt19937_64 rng(1);
  std::vector<std::string> seeds;
  RecordFileOptions o;

  seeds.push_back(MakeFile(dir, o, [](RecordFileWriter&) {}));  // empty
  o.sorted = true;
  o.partition = 5;
  seeds.push_back(MakeFile(dir, o, [](RecordFileWriter&) {}));  // empty, sorted, partition 5

  o = {};  // one LZ4 block
  seeds.push_back(MakeFile(dir, o, [&](RecordFileWriter& w) {
    for (int i = 0; i < 5; ++i) Ok(w.Add(Key(i), Text(rng, 40)));
  }));
  o.compress = false;  // one raw block with empty and binary keys and values
  seeds.push_back(MakeFile(dir, o, [&](RecordFileWriter& w) {
    Ok(w.Add("", ""));
    Ok(w.Add(std::string("\0\xff", 2), Bytes(rng, 20)));
    Ok(w.Add("key", ""));
    Ok(w.Add("", "value"));
  }));
  o = {};  // one record: empty key and value
  seeds.push_back(MakeFile(dir, o, [&](RecordFileWriter& w) { Ok(w.Add("", "")); }));

  o.block_bytes = 64;  // many blocks of both codecs
  o.partition = 3;
  seeds.push_back(MakeFile(dir, o, [&](RecordFileWriter& w) {
    for (int i = 0; i < 40; ++i) Ok(w.Add(Bytes(rng, rng() % 6), rng() % 2 ? Text(rng, rng() % 80) : Bytes(rng, rng() % 80)));
  }));

  o = {};  // sorted, several partitions (one skipped, one started empty), duplicates across blocks
  o.sorted = true;
  o.block_bytes = 96;
  seeds.push_back(MakeFile(dir, o, [&](RecordFileWriter& w) {
    for (int32_t p : {0, 1, 3, 4, 9}) {
      Ok(w.StartPartition(p));
      if (p == 1 || p == 4) continue;
      for (int i = 0; i < 12; ++i) Ok(w.Add(Key(i / 3), Text(rng, rng() % 30)));
    }
  }));

  o = {};  // sorted, one partition, many small blocks and runs of equal keys
  o.sorted = true;
  o.block_bytes = 48;
  seeds.push_back(MakeFile(dir, o, [&](RecordFileWriter& w) {
    for (int i = 0; i < 60; ++i) Ok(w.Add(Key(i / 6), std::to_string(i)));
  }));

  o = {};  // large LZ4 ratio next to an incompressible record
  o.block_bytes = 1024;
  seeds.push_back(MakeFile(dir, o, [&](RecordFileWriter& w) {
    Ok(w.Add("zeros", std::string(3000, '\0')));
    Ok(w.Add("random", Bytes(rng, 300)));
  }));

  o = {};  // records before any partition, then the largest partition id
  o.block_bytes = 64;
  seeds.push_back(MakeFile(dir, o, [&](RecordFileWriter& w) {
    Ok(w.Add("a", "1"));
    Ok(w.StartPartition(INT32_MAX));
    for (int i = 0; i < 8; ++i) Ok(w.Add(Key(i), Text(rng, 20)));
  }));

  Ok(RemoveAll(dir));
  return seeds;
}

// ---------------------------------------------------------------------------------------------
// Format-aware helpers: where the fields are, and recomputing checksums.

struct Layout {
  bool footer = false;
  size_t footer_offset = 0;
  bool index = false;
  uint64_t index_offset = 0, index_size = 0;
  std::vector<std::pair<uint64_t, uint32_t>> blocks;  // offset, stored size (from the index)
  std::vector<size_t> entries;                        // offsets of index entries
};

Layout Parse(const std::string& s) {
  Layout l;
  if (s.size() < kFooterSize) return l;
  l.footer = true;
  l.footer_offset = s.size() - kFooterSize;
  const char* f = s.data() + l.footer_offset;
  l.index_offset = DecodeFixed64(f + 32);
  l.index_size = DecodeFixed64(f + 40);
  if (l.index_offset > l.footer_offset || l.index_size > l.footer_offset - l.index_offset) return l;
  l.index = true;
  const char* p = s.data() + l.index_offset;
  const char* limit = p + l.index_size;
  while (limit - p >= 20 && l.entries.size() < 4096) {
    l.entries.push_back(p - s.data());
    l.blocks.emplace_back(DecodeFixed64(p), DecodeFixed32(p + 8));
    uint64_t klen;
    const char* q = DecodeVarint64(p + 20, limit, &klen);
    if (!q || klen > static_cast<uint64_t>(limit - q)) break;
    p = q + klen;
  }
  return l;
}

void FixChecksums(std::string& s, bool fix_magic) {
  Layout l = Parse(s);
  if (!l.footer) return;
  char* d = s.data();
  for (auto [offset, stored] : l.blocks) {
    if (offset > s.size() || kBlockHeaderSize + uint64_t{stored} > s.size() - offset) continue;
    EncodeFixed64(d + offset + 16, Checksum64(d + offset, 16, d + offset + kBlockHeaderSize, stored));
  }
  char* f = d + l.footer_offset;
  if (l.index) EncodeFixed64(f + 48, Checksum64(d + l.index_offset, l.index_size));
  if (fix_magic) EncodeFixed64(f + 64, kRecordFileMagic);
  EncodeFixed64(f + 56, Checksum64(f, 56));
}

// Offsets and widths of the fields the reader interprets.
std::vector<std::pair<size_t, int>> Fields(const std::string& s) {
  std::vector<std::pair<size_t, int>> fields;
  Layout l = Parse(s);
  if (!l.footer) return fields;
  for (int o : {0, 4, 8, 12}) fields.emplace_back(l.footer_offset + o, 4);
  for (int o : {16, 24, 32, 40, 48, 56, 64}) fields.emplace_back(l.footer_offset + o, 8);
  for (size_t e : l.entries) {
    fields.emplace_back(e, 8);
    for (int o : {8, 12, 16}) fields.emplace_back(e + o, 4);
    fields.emplace_back(e + 20, 1);  // first key length
  }
  for (auto [offset, stored] : l.blocks) {
    if (offset > s.size() || s.size() - offset < kBlockHeaderSize) continue;
    for (int o : {0, 4, 8}) fields.emplace_back(offset + o, 4);
    fields.emplace_back(offset + 12, 1);  // codec
    fields.emplace_back(offset + 13, 1);  // reserved
    fields.emplace_back(offset + 16, 8);
    if (offset + kBlockHeaderSize < s.size()) fields.emplace_back(offset + kBlockHeaderSize, 1);  // first varint
  }
  return fields;
}

// ---------------------------------------------------------------------------------------------
// Mutations

class Mutator {
 public:
  Mutator(uint64_t seed, size_t max_len) : rng_(seed), max_len_(max_len) {}

  uint64_t Below(uint64_t n) { return n == 0 ? 0 : rng_() % n; }
  bool OneIn(uint64_t n) { return Below(n) == 0; }

  std::string Mutate(const std::string& base, const std::vector<std::string>& pool) {
    std::string s = base;
    const int n = 1 + static_cast<int>(Below(4));
    for (int i = 0; i < n; ++i) MutateOnce(s, pool);
    if (s.size() > max_len_) s.resize(max_len_);
    if (OneIn(2)) FixChecksums(s, OneIn(2));
    return s;
  }

 private:
  uint64_t Interesting(const std::string& s, int width, uint64_t old) {
    static const uint64_t k32[] = {0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000,
                                   0x3fffffff, 0x40000000, 0x40000001, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff};
    static const uint64_t k64[] = {0x7fffffffffffffffull, 0x8000000000000000ull, 0xfffffffffffffffeull,
                                   0xffffffffffffffffull, 0x100000000ull, 0xffffffff00000000ull};
    switch (Below(6)) {
      case 0: return s.size();
      case 1: return s.size() - std::min<size_t>(s.size(), kFooterSize + Below(32));
      case 2: return old + 1 - 2 * Below(2);  // off by one
      case 3: return Below(s.size() + 1);
      case 4:
        if (width == 8) return k64[Below(std::size(k64))];
        [[fallthrough]];
      default: return k32[Below(std::size(k32))];
    }
  }

  void Store(std::string& s, size_t at, int width, uint64_t v) {
    if (at > s.size() || s.size() - at < static_cast<size_t>(width)) return;
    if (width == 8) EncodeFixed64(s.data() + at, v);
    else if (width == 4) EncodeFixed32(s.data() + at, static_cast<uint32_t>(v));
    else s[at] = static_cast<char>(v);
  }
  uint64_t Load(const std::string& s, size_t at, int width) {
    if (at > s.size() || s.size() - at < static_cast<size_t>(width)) return 0;
    if (width == 8) return DecodeFixed64(s.data() + at);
    if (width == 4) return DecodeFixed32(s.data() + at);
    return static_cast<unsigned char>(s[at]);
  }

  // A field to overwrite: usually a known one, sometimes any aligned or unaligned spot.
  std::pair<size_t, int> PickField(const std::string& s, int width) {
    if (!OneIn(4)) {
      std::vector<std::pair<size_t, int>> fields = Fields(s);
      if (!fields.empty()) {
        auto f = fields[Below(fields.size())];
        if (width == 0 || f.second == width) return f;
      }
    }
    if (width == 0) width = OneIn(2) ? 4 : 8;
    if (s.size() < static_cast<size_t>(width)) return {0, 0};
    return {Below(s.size() - width + 1), width};
  }

  std::string Chunk(const std::vector<std::string>& pool, size_t max) {
    const std::string& other = pool[Below(pool.size())];
    if (other.empty()) return "";
    size_t at = Below(other.size());
    return other.substr(at, 1 + Below(std::min(max, other.size() - at)));
  }

  void MutateOnce(std::string& s, const std::vector<std::string>& pool) {
    switch (Below(13)) {
      case 0:  // flip a bit
        if (!s.empty()) s[Below(s.size())] ^= static_cast<char>(1u << Below(8));
        break;
      case 1: {  // set a byte
        static const unsigned char kBytes[] = {0, 1, 0x7f, 0x80, 0xfe, 0xff};
        if (!s.empty()) s[Below(s.size())] = static_cast<char>(OneIn(2) ? kBytes[Below(6)] : rng_());
        break;
      }
      case 2:  // truncate, often just a little
        if (!s.empty()) s.resize(OneIn(2) ? s.size() - 1 - Below(std::min<size_t>(s.size(), 80)) : Below(s.size()));
        break;
      case 3: {  // insert random bytes or a run of one byte
        size_t n = 1 + Below(OneIn(4) ? 512 : 16);
        std::string ins(n, static_cast<char>(rng_()));
        if (OneIn(2)) for (char& c : ins) c = static_cast<char>(rng_());
        s.insert(Below(s.size() + 1), ins);
        break;
      }
      case 4:  // delete a range
        if (!s.empty()) {
          size_t at = Below(s.size());
          s.erase(at, 1 + Below(std::min<size_t>(s.size() - at, OneIn(4) ? s.size() : 32)));
        }
        break;
      case 5: {  // splice: a prefix of this one and a suffix of another
        const std::string& other = pool[Below(pool.size())];
        s = s.substr(0, Below(s.size() + 1)) + other.substr(Below(other.size() + 1));
        break;
      }
      case 6: {  // overwrite a range with a piece of another input
        std::string c = Chunk(pool, 256);
        if (!s.empty() && !c.empty()) {
          size_t at = Below(s.size());
          s.replace(at, std::min(c.size(), s.size() - at), c.substr(0, s.size() - at));
        }
        break;
      }
      case 7: {  // insert a piece of another input (or of this one: duplicated blocks)
        s.insert(Below(s.size() + 1), OneIn(2) ? Chunk(pool, 512) : Chunk({s}, 512));
        break;
      }
      case 8:
      case 9: {  // a field set to an interesting value
        auto [at, width] = PickField(s, case8_width());
        if (width) Store(s, at, width, Interesting(s, width, Load(s, at, width)));
        break;
      }
      case 10: {  // a field nudged
        auto [at, width] = PickField(s, 0);
        if (width) Store(s, at, width, Load(s, at, width) + (Below(33) - 16));
        break;
      }
      case 11: {  // swap two ranges of equal length
        if (s.size() < 2) break;
        size_t n = 1 + Below(std::min<size_t>(64, s.size() / 2));
        size_t a = Below(s.size() - n + 1), b = Below(s.size() - n + 1);
        if (a != b && (a + n <= b || b + n <= a)) std::swap_ranges(s.begin() + a, s.begin() + a + n, s.begin() + b);
        break;
      }
      default: {  // a byte of a known field set to anything
        auto [at, width] = PickField(s, 0);
        if (width && at < s.size() && s.size() - at >= static_cast<size_t>(width)) s[at + Below(width)] = static_cast<char>(rng_());
        break;
      }
    }
  }
  int case8_width() { return OneIn(3) ? 0 : (OneIn(2) ? 4 : 8); }

  std::mt19937_64 rng_;
  size_t max_len_;
};

// ---------------------------------------------------------------------------------------------

struct Flags {
  double seconds = 10;
  uint64_t seed = 0;
  bool have_seed = false;
  uint64_t runs = 0;  // 0: no limit
  size_t max_len = 1 << 16;
  bool verbose = false;
  std::vector<std::string> files;
};

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      auto eq = a.find('=');
      if (eq != std::string::npos) return a.substr(eq + 1);
      if (i + 1 >= argc) Die("missing value for " + a);
      return argv[++i];
    };
    auto is = [&](const char* name) { return a == name || a.rfind(std::string(name) + "=", 0) == 0; };
    if (is("--seconds")) f.seconds = std::stod(value());
    else if (is("--seed")) f.seed = std::stoull(value()), f.have_seed = true;
    else if (is("--runs")) f.runs = std::stoull(value());
    else if (is("--max_len")) f.max_len = std::stoull(value());
    else if (a == "-v" || a == "--verbose") f.verbose = true;
    else if (a == "-h" || a == "--help") {
      std::printf("usage: %s [--seconds N] [--seed S] [--runs N] [--max_len N] [-v] | FILE...\n", argv[0]);
      std::exit(0);
    } else if (!a.empty() && a[0] == '-') Die("unknown flag " + a);
    else f.files.push_back(a);
  }
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags = ParseFlags(argc, argv);
  InstallCrashHandlers();

  if (!flags.files.empty()) {  // replay
    for (const std::string& file : flags.files) {
      std::string input;
      Status s = ReadFileToString(file, &input);
      if (!s.ok()) Die(s.ToString());
      RunOne(input);
      std::printf("%s: %zu bytes: %s\n", file.c_str(), input.size(), Outcome().c_str());
    }
    return 0;
  }

  if (!flags.have_seed) flags.seed = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  std::printf("record_file_fuzz: seed %llu, %.0f s\n", static_cast<unsigned long long>(flags.seed), flags.seconds);
  std::fflush(stdout);

  const std::vector<std::string> seeds = MakeSeeds();
  std::vector<std::string> pool = seeds;
  std::map<std::string, uint64_t> outcomes;
  for (const std::string& seed : seeds) {
    RunOne(seed);
    std::string o = Outcome();
    if (RecordFileFuzzOutcome && o.rfind("ok", 0) != 0) Die("a valid seed file fails: " + o);
    ++outcomes[o];
  }

  Mutator mutator(flags.seed, flags.max_len);
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::duration<double>(flags.seconds);
  uint64_t execs = 0, added = 0;
  constexpr size_t kMaxPool = 512;
  for (;;) {
    if (flags.runs && execs >= flags.runs) break;
    if (execs % 32 == 0 && std::chrono::steady_clock::now() >= deadline) break;
    const std::string& base = pool[mutator.Below(pool.size())];
    std::string input = mutator.Mutate(base, pool);
    RunOne(input);
    ++execs;
    std::string o = Outcome();
    uint64_t& seen = outcomes[o];
    // New kinds of outcome, and now and then a mutant that still reads, join the pool.
    if (seen++ == 0 || (o.rfind("ok", 0) == 0 && mutator.OneIn(16))) {
      if (seen == 1 && flags.verbose) std::printf("  #%llu new: %s\n", static_cast<unsigned long long>(execs), o.c_str());
      if (pool.size() < kMaxPool) {
        pool.push_back(std::move(input));
      } else {
        pool[seeds.size() + mutator.Below(kMaxPool - seeds.size())] = std::move(input);
      }
      ++added;
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  uint64_t opened = 0, valid = 0;
  for (const auto& [o, n] : outcomes) {
    if (o.rfind("open:", 0) != 0) opened += n;
    if (o.rfind("ok", 0) == 0) valid += n;
  }
  std::printf("record_file_fuzz: %zu outcome kinds:\n", outcomes.size());
  for (const auto& [o, n] : outcomes) std::printf("  %10llu  %s\n", static_cast<unsigned long long>(n), o.c_str());
  std::printf("record_file_fuzz: %llu executions in %.1f s (%.0f/s), seed %llu; %llu opened, %llu read without error; "
              "pool %zu (%llu added)\n",
              static_cast<unsigned long long>(execs), secs, execs / std::max(secs, 1e-9),
              static_cast<unsigned long long>(flags.seed), static_cast<unsigned long long>(opened),
              static_cast<unsigned long long>(valid), pool.size(), static_cast<unsigned long long>(added));
  return 0;
}
