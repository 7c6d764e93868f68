#include "cli/text_generators.h"

#include <cmath>
#include <string>
#include <vector>

namespace sawmill {
namespace {

struct Rng {
  uint64_t s;
  uint64_t Next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double Uniform() { return static_cast<double>(Next() >> 11) * (1.0 / 9007199254740992.0); }
  uint64_t Below(uint64_t n) { return Next() % n; }
};

std::vector<std::string> Vocabulary(uint32_t n, uint64_t seed) {
  Rng rng{seed ^ 0x5eed};
  std::vector<std::string> words;
  words.reserve(n);
  std::string w;
  for (uint32_t i = 0; i < n; ++i) {
    // Distinct by construction: i in base 16 with digits 'a'..'p', then 'z', then random padding.
    w.clear();
    uint32_t x = i;
    do {
      w.push_back(static_cast<char>('a' + x % 16));
      x /= 16;
    } while (x > 0);
    size_t len = 2 + rng.Below(9);
    w.push_back('z');
    while (w.size() < len) w.push_back(static_cast<char>('a' + rng.Below(26)));
    words.push_back(w);
  }
  return words;
}

// Vose's alias method: O(1) draws from a discrete distribution.
class AliasTable {
 public:
  explicit AliasTable(const std::vector<double>& weights) : prob_(weights.size()), alias_(weights.size()) {
    size_t n = weights.size();
    double total = 0;
    for (double w : weights) total += w;
    std::vector<double> scaled(n);
    std::vector<uint32_t> small, large;
    for (size_t i = 0; i < n; ++i) {
      scaled[i] = weights[i] * static_cast<double>(n) / total;
      (scaled[i] < 1 ? small : large).push_back(static_cast<uint32_t>(i));
    }
    while (!small.empty() && !large.empty()) {
      uint32_t s = small.back(), l = large.back();
      small.pop_back();
      prob_[s] = scaled[s];
      alias_[s] = l;
      scaled[l] -= 1 - scaled[s];
      if (scaled[l] < 1) {
        large.pop_back();
        small.push_back(l);
      }
    }
    for (uint32_t i : large) prob_[i] = 1;
    for (uint32_t i : small) prob_[i] = 1;
  }
  uint32_t Draw(Rng& rng) const {
    uint32_t i = static_cast<uint32_t>(rng.Below(prob_.size()));
    return rng.Uniform() < prob_[i] ? i : alias_[i];
  }

 private:
  std::vector<double> prob_;
  std::vector<uint32_t> alias_;
};

}  // namespace

bool WriteZipfText(FILE* out, const ZipfTextOptions& o) {
  std::vector<std::string> words = Vocabulary(o.vocabulary, o.seed);
  std::vector<double> weights(o.vocabulary);
  for (uint32_t r = 0; r < o.vocabulary; ++r) weights[r] = 1.0 / std::pow(r + 1.0, o.exponent);
  AliasTable table(weights);
  Rng rng{o.seed};
  std::string buf;
  buf.reserve(1 << 20);
  uint64_t written = 0;
  while (written < o.bytes) {
    int n = o.min_words + static_cast<int>(rng.Below(static_cast<uint64_t>(o.max_words - o.min_words + 1)));
    for (int i = 0; i < n; ++i) {
      if (i) buf.push_back(' ');
      buf += words[table.Draw(rng)];
    }
    buf.push_back('\n');
    if (buf.size() >= (1 << 20) - 256) {
      if (std::fwrite(buf.data(), 1, buf.size(), out) != buf.size()) return false;
      written += buf.size();
      buf.clear();
    }
    if (written + buf.size() >= o.bytes) break;
  }
  return std::fwrite(buf.data(), 1, buf.size(), out) == buf.size();
}

bool WriteLogText(FILE* out, const LogTextOptions& o) {
  static const char* kPaths[] = {"/", "/index.html", "/search", "/login", "/cart", "/product/42",
                                 "/product/7", "/api/v1/items", "/static/app.js", "/static/style.css"};
  static const char* kUsers[] = {"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"};
  static const char* kMethods[] = {"GET", "GET", "GET", "POST"};
  static const int kStatus[] = {200, 200, 200, 200, 200, 304, 404, 500};
  Rng rng{o.seed};
  uint64_t t = 1795392000;  // 2026-11-23T00:00:00Z; logical time, not the clock
  for (uint64_t i = 0; i < o.lines; ++i) {
    t += rng.Below(3);
    uint64_t day = t % 86400;
    // Zipf-like skew over paths: favour the first ones.
    size_t path = static_cast<size_t>(rng.Below(10) * rng.Below(10) / 10);
    // Drawn user first, host last: the order the original single fprintf evaluated them in
    // (right to left with GCC), so that the text lines of a seed stay what they were.
    const char* user = kUsers[rng.Below(8)];
    const auto latency = static_cast<unsigned long long>(5 + rng.Below(200));
    const int status = kStatus[rng.Below(8)];
    const char* method = kMethods[rng.Below(4)];
    const auto host = static_cast<unsigned long long>(rng.Below(4) + 1);
    const auto hh = static_cast<unsigned long long>(day / 3600), mm = static_cast<unsigned long long>(day / 60 % 60),
               ss = static_cast<unsigned long long>(day % 60);
    const int written =
        o.combined
            ? std::fprintf(out, "10.0.0.%llu - %s [23/Nov/2026:%02llu:%02llu:%02llu +0000] \"%s %s HTTP/1.1\" %d %llu \"-\" "
                           "\"sawmill-gen\" %llu.%03llu\n",
                           host, user, hh, mm, ss, method, kPaths[path], status, 200 + latency * 37 % 5000,
                           latency / 1000, latency % 1000)
            : std::fprintf(out, "2026-11-23T%02llu:%02llu:%02lluZ host%llu %s %s %d %llums user=%s\n", hh, mm, ss, host,
                           method, kPaths[path], status, latency, user);
    if (written < 0) return false;
  }
  return true;
}

}  // namespace sawmill
