// A small standalone driver for LLVMFuzzerTestOneInput targets (g++ has no libFuzzer): starts
// from the target's seeds (FuzzSeeds) and applies random byte-level mutations for a bounded
// time. The sequence depends only on --seed. A crashing input is written to
// ./<program>-crash-<pid>.bin; `PROGRAM FILE...` replays files.
//
//   TARGET [--seconds N] [--seed S]     fuzz
//   TARGET FILE...                      replay
#include <signal.h>
#include <unistd.h>
#include <fcntl.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
// Valid inputs to start from, provided by the target.
std::vector<std::string> FuzzSeeds();

namespace {

const std::string* g_current = nullptr;
char g_crash_path[256];

void OnCrash(int sig) {
  if (g_current) {
    int fd = ::open(g_crash_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      (void)!::write(fd, g_current->data(), g_current->size());
      ::close(fd);
    }
    (void)!::write(2, "fuzz: crashing input saved\n", 27);
  }
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

void Mutate(std::string& s, std::mt19937_64& rng, const std::vector<std::string>& pool) {
  int rounds = 1 + static_cast<int>(rng() % 4);
  for (int r = 0; r < rounds; ++r) {
    size_t n = s.size();
    switch (rng() % 8) {
      case 0:
        if (n) s[rng() % n] ^= static_cast<char>(1 << (rng() % 8));
        break;
      case 1:
        if (n) s[rng() % n] = static_cast<char>(rng());
        break;
      case 2: {  // an interesting 4-byte value somewhere
        static const uint32_t kVals[] = {0, 1, 0x7f, 0x80, 0xff, 0xffff, 0x7fffffff, 0xffffffff, 16u << 20};
        if (n >= 4) {
          uint32_t v = kVals[rng() % (sizeof kVals / sizeof kVals[0])];
          std::memcpy(&s[rng() % (n - 3)], &v, 4);
        }
        break;
      }
      case 3:
        if (n) s.resize(rng() % n);
        break;
      case 4: {
        size_t at = n ? rng() % n : 0;
        std::string ins(1 + rng() % 16, '\0');
        for (char& c : ins) c = static_cast<char>(rng());
        s.insert(at, ins);
        break;
      }
      case 5:
        if (n > 1) {
          size_t at = rng() % n;
          s.erase(at, 1 + rng() % std::min<size_t>(64, n - at));
        }
        break;
      case 6:
        if (n > 1) {
          size_t at = rng() % n, len = 1 + rng() % std::min<size_t>(64, n - at);
          s.insert(rng() % n, s.substr(at, len));
        }
        break;
      default: {  // splice with another pool entry
        const std::string& o = pool[rng() % pool.size()];
        if (!o.empty() && n) s = s.substr(0, rng() % n) + o.substr(rng() % o.size());
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::snprintf(g_crash_path, sizeof g_crash_path, "./%s-crash-%d.bin", ::basename(argv[0]), ::getpid());
  for (int sig : {SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL}) ::signal(sig, OnCrash);
  double seconds = 10;
  uint64_t seed = 1;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
    } else if (a == "--seed" && i + 1 < argc) {
      seed = std::strtoull(argv[++i], nullptr, 10);
    } else {
      files.push_back(a);
    }
  }
  if (!files.empty()) {
    for (const auto& f : files) {
      std::ifstream in(f, std::ios::binary);
      std::string data((std::istreambuf_iterator<char>(in)), {});
      g_current = &data;
      LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(data.data()), data.size());
    }
    std::printf("replayed %zu inputs\n", files.size());
    return 0;
  }
  std::vector<std::string> pool = FuzzSeeds();
  if (pool.empty()) pool.push_back("");
  std::mt19937_64 rng(seed);
  auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  uint64_t runs = 0;
  std::string input;
  g_current = &input;
  while (std::chrono::steady_clock::now() < end) {
    for (int i = 0; i < 64; ++i, ++runs) {
      input = pool[rng() % pool.size()];
      Mutate(input, rng, pool);
      LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
      // Keep some mutants as new starting points (no coverage feedback available).
      if (rng() % 64 == 0 && pool.size() < 256) pool.push_back(input);
    }
  }
  std::printf("fuzz: %llu executions in %.0f s, no crash\n", static_cast<unsigned long long>(runs), seconds);
  return 0;
}
