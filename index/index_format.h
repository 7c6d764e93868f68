// The search index's record format (docs/index.md): the keys and values a job that builds the
// index writes (jobs/inverted_index, through api/index.h) and the query reads
// (index/search_index.h). Plain encodings: no record-file dependency.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace sawmill::search {

// The key of the document count N; it sorts first in its part.
inline constexpr std::string_view kDocCountKey = "";

// A document's number: the postings hold numbers, and the document table maps them back to ids.
// XXH3-64 of the id, keeping its low `bits` bits (fewer than 64 only to test collisions); the
// index job fails when two ids share a number. Ties in a ranking order by number.
uint64_t DocNumber(std::string_view id, int bits = 64);

// The document table's key of a number: 0x01, then the number big-endian. It sorts before every
// term (terms are letters and digits) and is hash-partitioned like any key.
std::string DocKey(uint64_t number);

struct Posting {
  uint64_t doc = 0;  // DocNumber of the document
  int64_t tf = 0;
};

// Emits a term's index records in key order: the header `TERM NUL` (document frequency, then
// each tf layer's size, tf descending) and the chunks `TERM NUL ~TF LASTDOC` (4 and 8 bytes
// big-endian), every chunk up to `chunk_postings` document numbers of one layer, ascending,
// delta-coded varints. A document's postings are summed first (a number given twice is one
// document). Reorders `postings`. Terms must not contain NUL.
void EncodeTerm(std::string_view term, std::vector<Posting>* postings, size_t chunk_postings,
                const std::function<void(std::string_view key, std::string_view value)>& emit);

// The key of a term's header record: TERM NUL.
std::string HeaderKey(std::string_view term);
// What every chunk key of a term's layer starts with: TERM NUL ~TF (so layers sort by
// descending tf); LASTDOC follows.
std::string LayerPrefix(std::string_view term, int64_t tf);

}  // namespace sawmill::search
