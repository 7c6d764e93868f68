// Deterministic synthetic inputs for demos, tests and benchmarks: Zipf-distributed words and
// web-server-like log lines. Same seed, same bytes.
#pragma once

#include <cstdint>
#include <cstdio>

namespace sawmill {

struct ZipfTextOptions {
  uint64_t bytes = 1 << 20;   // stop after about this many bytes (whole lines)
  uint32_t vocabulary = 75000;
  double exponent = 1.0;
  int min_words = 5, max_words = 15;  // per line
  uint64_t seed = 1;
};
// Writes lines of space-separated words drawn from a Zipf distribution over the vocabulary.
bool WriteZipfText(FILE* out, const ZipfTextOptions& options);

struct LogTextOptions {
  uint64_t lines = 10000;
  uint64_t seed = 1;
  // false: "TIME HOST METHOD PATH STATUS LATENCYms user=USER"; true: the same hits as combined
  // log format lines ending in the response time in seconds, as `sawmill logs append --format
  // combined` and the views' --log_format combined read them.
  bool combined = false;
};
// Writes access-log lines: time, host, method, path, status, latency, user.
bool WriteLogText(FILE* out, const LogTextOptions& options);

}  // namespace sawmill
