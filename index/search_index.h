// The top-k tf-idf query over an index written by jobs/inverted_index (`sawmill index query`),
// and the index directory's parts. The records' format: index/index_format.h. Format and
// algorithm: docs/index.md.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "index/index_format.h"
#include "records/manifest.h"
#include "records/record_file.h"

namespace sawmill::search {

struct QueryOptions {
  bool any = false;         // OR: documents holding any term; otherwise AND: every term
  size_t k = 10;            // results
  bool exhaustive = false;  // score every posting of every term (no pruning; the pruning's oracle)
};

struct Hit {
  std::string doc;
  double score = 0;
};

struct QueryStats {
  uint64_t records_read = 0;   // index records: N, headers, chunks and document ids
  uint64_t postings_read = 0;  // document numbers in the chunks read
  uint64_t combinations = 0;   // tf combinations evaluated (pruned queries)
};

// The sorted record file holding a key: a term (for the term's records), kDocCountKey or a
// DocKey. The reader is owned by the callee and must outlive the query.
using PartForKey = std::function<Result<const RecordFileReader*>(std::string_view key)>;

// The top k documents by sum over the query terms a document holds of tf * ln(N / df), ties by
// document number, among documents holding every term (or any, with options.any). Terms are
// lowercased and deduplicated; a term not in the index has no postings. Reads only the terms'
// records, and of those only the chunks the ranking needs, then the hits' document ids.
// kCorruption names the file and term (or document number) when a record is missing or malformed.
Result<std::vector<Hit>> Query(const PartForKey& parts, const std::vector<std::string>& terms,
                               const QueryOptions& options, QueryStats* stats);

// An index directory written by jobs/inverted_index: its manifest and part readers (opened on
// first use). Not thread-safe.
class IndexParts {
 public:
  // kInvalidArgument unless `dir`'s manifest says hash-partitioned parts.
  static Result<std::unique_ptr<IndexParts>> Open(const std::string& dir);
  Result<const RecordFileReader*> ForKey(std::string_view key);

 private:
  IndexParts(std::string dir, Manifest manifest) : dir_(std::move(dir)), manifest_(std::move(manifest)) {}
  std::string dir_;
  Manifest manifest_;
  std::map<int, std::unique_ptr<RecordFileReader>> readers_;
};

}  // namespace sawmill::search
