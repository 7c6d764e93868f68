// The ingestion ledger of a log partition: the source files `sawmill logs append` has read into
// it and how far, so that a file appended again, grown, or renamed and compressed by log rotation
// adds only lines not yet appended. Stored as <first-offset>.ledger beside each appended segment
// (logs/ingest_ledger.capnp); the partition's ledger is that of its newest segment that has one.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sawmill::logs {

// How many leading bytes identify a source file.
inline constexpr size_t kLedgerHeadBytes = 4096;

struct LedgerSource {
  std::string path;
  uint64_t device = 0, inode = 0, size = 0;
  uint32_t head_length = 0;  // never 0 in a stored ledger: a source enters it with its first line
  uint64_t head_hash = 0;
  uint64_t consumed = 0, lines = 0;
  int64_t appended_ms = 0;
};

struct Ledger {
  std::vector<LedgerSource> sources;
};

std::string EncodeLedger(const Ledger& ledger);
// kCorruption naming `name` for bytes that are not a ledger.
Result<Ledger> DecodeLedger(std::string_view bytes, const std::string& name);

// What is known of a file about to be read: its identity and its first (decompressed) bytes, up
// to kLedgerHeadBytes (fewer only when the file is shorter).
struct SourceFile {
  std::string path;
  uint64_t device = 0, inode = 0, size = 0;
  std::string_view head;
};

// The ledger entry `file` continues, or -1 for a new source. An entry matches when the file
// starts with the bytes the entry's head hash covers; among matches, the one with the same
// device and inode wins, then the one whose hash covers more bytes, then the one that consumed
// more.
int MatchSource(const Ledger& ledger, const SourceFile& file);

// Records that `file` has been consumed through `consumed` bytes (`lines` lines) at `now_ms`:
// updates entry `index` (or adds one when -1, returning its index), refreshing its name,
// identity and head hash. `head` must hold the file's first min(kLedgerHeadBytes, consumed)
// bytes at least.
int RecordProgress(Ledger* ledger, int index, const SourceFile& file, uint64_t consumed, uint64_t lines,
                   int64_t now_ms);

// The partition directory's ledger: the .ledger of the greatest first offset that is also a
// segment in `segment_firsts` (leftovers of failed appends have none). Empty when there is none.
Result<Ledger> ReadPartitionLedger(const std::string& dir, const std::vector<uint64_t>& segment_firsts);
std::string LedgerName(uint64_t first_offset);

}  // namespace sawmill::logs
