// The _MANIFEST of an output directory (schema: manifest.capnp): what the job was, how the
// output is partitioned and sorted, and each part's record count, byte count and content hash.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace sawmill {

struct PartInfo {
  std::string name;        // "part-00000"
  int32_t partition = 0;
  uint64_t records = 0;
  uint64_t bytes = 0;      // file size
  std::string content_hash;  // XXH3-128 of the file, hex
};

struct Manifest {
  std::string job_name;
  std::vector<std::string> inputs;
  std::string partitioner;   // "hash", "range", "custom", "none" (map-only)
  std::vector<std::string> split_points;  // range partitioner
  int32_t num_partitions = 0;
  bool sorted = false;       // each part sorted by key
  bool total_order = false;  // concatenated parts sorted
  bool reducers_auto = false;  // num_partitions chosen by the job (--reducers not given)
  std::vector<PartInfo> parts;
  std::map<std::string, int64_t> counters;  // user counters (deterministic)

  uint64_t records() const;
  uint64_t bytes() const;
};

inline constexpr char kManifestName[] = "_MANIFEST";

Status WriteManifest(const std::string& path, const Manifest& m);
// The bytes WriteManifest writes.
std::string ManifestBytes(const Manifest& m);
Result<Manifest> ReadManifest(const std::string& path);
// Human-readable text (Cap'n Proto text form) for `sawmill manifest`.
std::string ManifestToText(const Manifest& m);

}  // namespace sawmill
