// Joins of two inputs by key (docs/joins.md): what a join is (JoinDef: the two sides, how a
// record yields its join key and payload, what a match emits) and the strategies that turn one
// into a JobSpec for the runtime: reduce-side (secondary sort, spilling, hot keys), broadcast
// hash, partitioned hash and sort-merge over co-partitioned inputs.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "mapreduce/job_spec.h"
#include "mapreduce/user_code.h"

namespace sawmill {

enum class JoinType { kInner, kLeft, kRight, kFull };
enum class JoinStrategy { kAuto, kReduce, kBroadcast, kPartitioned, kMerge };

const char* JoinTypeName(JoinType t);
const char* JoinStrategyName(JoinStrategy s);
bool ParseJoinType(std::string_view s, JoinType* t);
bool ParseJoinStrategy(std::string_view s, JoinStrategy* s_out);

// Keeps rows of side 0 (left) / 1 (right) that have no match.
inline bool KeepsUnmatched(JoinType t, int side) {
  return t == JoinType::kFull || (side == 0 ? t == JoinType::kLeft : t == JoinType::kRight);
}

// Turns an input record into its join key and the payload carried to the output. Returns false
// for a malformed record (no key): it is counted in join.malformed_rows and skipped, or fails the
// task under JoinDef::strict. `*join_key` may point into key/value or into *scratch.
using JoinExtractor = std::function<bool(std::string_view key, std::string_view value, std::string_view* join_key,
                                         std::string* payload, std::string* scratch)>;

// Writes the output of one match. `left` or `right` is null for the missing side of an outer join.
// Extractors and emitters are called from several task threads at once: no mutable state.
using JoinEmitter = std::function<void(std::string_view join_key, const std::string_view* left,
                                       const std::string_view* right, TaskContext& ctx)>;

struct JoinSideDef {
  std::string input;  // file or directory (local or dfs:)
  InputFormat format = InputFormat::kTextLines;
  JoinExtractor extract;
};

struct JoinDef {
  std::string name = "join";
  JoinType type = JoinType::kInner;
  JoinSideDef side[2];  // 0 left, 1 right
  JoinEmitter emit;
  bool strict = false;  // a malformed record fails the task
};

// Reduce-side join. The side whose rows of a key are buffered (the smaller input) sorts first
// within each key; hot keys (of the other, large side) are spread over all reducers by a per-row
// salt, and the buffered side's rows of a hot key are sent to every reducer.
struct ReduceJoinOptions {
  int buffered_side = 1;
  std::vector<std::string> hot_keys;  // raw join keys; sorted, unique
  size_t buffer_bytes = 0;            // in-memory budget of the buffered side per key (0: 1/4 of the task's)
};
JobSpec ReduceSideJoin(const JoinDef& def, const ReduceJoinOptions& options);

// Broadcast hash join: a map-only job over the other side that probes a hash table of
// `small_side`, built once per process (read once per machine on a cluster, through the job's
// cache dir). Unmatched rows of the small side cannot be found by one map task: refused
// (kInvalidArgument) when the join type keeps them.
Result<JobSpec> BroadcastJoin(const JoinDef& def, int small_side);

// Partitioned hash join (merge = false) or sort-merge join (merge = true) of two inputs that are
// partitioned alike (checked from their _MANIFESTs by CheckCoPartitioned): a map-only job with
// one task per part of `streamed_side`; task i reads part i of the other side. Every join type
// works, since task i sees all rows of its keys on both sides.
Result<JobSpec> CoPartitionedJoin(const JoinDef& def, bool merge, int streamed_side);

// Why two inputs cannot be joined part by part (partitioner, part count, sort order for merge);
// Ok when they can. Both must be Sawmill outputs with a _MANIFEST, keyed by the join key.
Status CheckCoPartitioned(const std::string& left, const std::string& right, bool merge);

// What planning needs to know of one input.
struct JoinInputFacts {
  std::vector<std::string> files;  // ExpandInput's
  uint64_t bytes = 0;
  bool has_manifest = false;       // a Sawmill output directory
  InputFormat format = InputFormat::kTextLines;  // record files when it has a manifest or its first file is one
  int columns = 0;                 // of the first row (records: the key, then the value's columns); 0 when empty
};
Result<JoinInputFacts> InspectJoinInput(const std::string& input);

// Keys holding more than `share` of the rows sampled from `side` (up to `sample_rows` rows from
// up to 10 evenly spaced splits), sorted; what the reduce-side join spreads over all reducers.
Result<std::vector<std::string>> SampleHotKeys(const JoinDef& def, int side, double share,
                                               size_t sample_rows = 100000);

// The join key encoding of the reduce-side join's map output keys: the raw key with 0x00 escaped
// as 0x00 0xFF, the terminator 0x00, then for salt 0 one byte 1 + tag, else 0x03, the 2-byte
// salt (big-endian) and 1 + tag. memcmp order of encoded keys is (raw key, salt, tag), the
// encoding is prefix-free, and a short key's encoding is short: a 6-byte id encodes in 8 bytes,
// whose order the map-side sort reads from its 8-byte prefix alone. Tags are 0 or 1.
void EncodeJoinKey(std::string_view raw, uint16_t salt, uint8_t tag, std::string* out);
// The raw key of an encoded key (into *scratch when it had escapes), or `encoded` itself when
// malformed; what the reduce join partitions by. One scan for the common unsalted key.
std::string_view JoinKeyRaw(std::string_view encoded, std::string* scratch);
// The side tag of a well-formed encoded key.
inline uint8_t JoinKeyTag(std::string_view encoded) { return static_cast<uint8_t>(encoded.back() - 1); }
// Length of the (raw key, salt) part: the reduce grouping prefix. key.size() when malformed.
size_t JoinGroupPrefix(std::string_view encoded);
// The raw key (into *scratch when it had escapes); false when `encoded` is malformed.
bool DecodeJoinKey(std::string_view encoded, std::string_view* raw, uint16_t* salt, uint8_t* tag,
                   std::string* scratch);

// Counters the strategies report.
inline constexpr char kMalformedRowsCounter[] = "join.malformed_rows";
inline constexpr char kHotKeysCounter[] = "join.hot_keys";
inline constexpr char kHotKeyRowsCounter[] = "join.hot_key_rows";
inline constexpr char kSpilledRowsCounter[] = "join.spilled_rows";
inline constexpr char kBroadcastReadsCounter[] = "join.broadcast_reads";

}  // namespace sawmill
