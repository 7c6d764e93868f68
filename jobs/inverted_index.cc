// inverted_index: term -> posting list (document, term frequency) of text documents, sorted and
// hash-partitioned by term, for `sawmill index query` (docs/index.md). Documents are lines:
// DOCID<TAB>TEXT, or, for a line without a TAB, the document "<file>:<byte offset>"; log records
// (logs: inputs) are documents "<partition>:<offset>" with their payload as text. Terms are
// maximal runs of ASCII letters and digits, lowercased.
//
// Output records (api/index.h, index/index_format.h): per term, a header and its postings in tf
// layers, each layer in document-number order and cut into chunks; the document table (number
// -> id); and key "" (sorts first in its part) with the document count N.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <gflags/gflags.h>

#include "api/codec.h"
#include "api/index.h"
#include "api/mapreduce.h"

DEFINE_int32(chunk_postings, 128, "Document numbers per chunk record of a posting list (docs/index.md).");
DEFINE_int32(doc_number_bits, 64,
             "Bits of a document number (the hash of its id); fewer than 64 only to test the job's collision check.");

namespace {

using namespace sawmill;

class DocMapper final : public Mapper {
 public:
  void Map(std::string_view key, std::string_view value, TaskContext& ctx) override {
    std::string doc;
    std::string_view text;
    if (key.size() == 8 && EndsWith(ctx.input_path(), ".seg")) {
      // A log record, read as a text line (key = its offset, value = its payload): the segment's
      // partition directory names the partition.
      std::string_view path = ctx.input_path();
      doc = std::string(FileName(path.substr(0, path.rfind('/')))) + ":" + std::to_string(DecodeUint64(key));
      text = value;
    } else {
      size_t tab = value.find('\t');
      if (tab != std::string_view::npos && tab > 0) {
        doc.assign(value.substr(0, tab));
        text = value.substr(tab + 1);
      } else {
        doc = std::string(FileName(ctx.input_path())) + ":" + std::to_string(ctx.record_offset());
        text = value;
      }
    }
    counts_.clear();
    std::string term;
    for (size_t i = 0; i <= text.size(); ++i) {
      char c = i < text.size() ? text[i] : ' ';
      if (std::isalnum(static_cast<unsigned char>(c))) {
        term.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
      } else if (!term.empty()) {
        ++counts_[term];
        term.clear();
      }
    }
    // A posting: the document number (8 bytes big-endian), then the term frequency in decimal.
    const uint64_t number = search::DocNumber(doc, FLAGS_doc_number_bits);
    std::string posting = EncodeUint64(number);
    for (const auto& [t, tf] : counts_) {
      posting.resize(8);
      posting += std::to_string(tf);
      ctx.Emit(t, posting);
    }
    ctx.Emit(search::DocKey(number), doc);
    ctx.Emit(search::kDocCountKey, "1");
  }

 private:
  // What follows the last '/' of a file's path.
  static std::string_view FileName(std::string_view path) { return path.substr(path.rfind('/') + 1); }
  static bool EndsWith(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
  }
  std::map<std::string, int64_t> counts_;
};

class PostingsReducer final : public Reducer {
 public:
  void Reduce(std::string_view key, ValueIterator& values, TaskContext& ctx) override {
    std::string_view v;
    if (key == search::kDocCountKey) {
      int64_t n = 0;
      while (values.Next(&v)) n += std::stoll(std::string(v));
      ctx.Emit(search::kDocCountKey, DecimalString(n));
      return;
    }
    if (key.size() == 9 && key[0] == '\x01') {
      // The document table: every id with this number must be the same document.
      std::string id;
      for (bool first = true; values.Next(&v); first = false) {
        if (first) {
          id.assign(v);
        } else if (v != id) {
          throw std::runtime_error("documents '" + id + "' and '" + std::string(v) +
                                   "' hash to the same document number; give one of them another id");
        }
      }
      ctx.Emit(key, id);
      return;
    }
    postings_.clear();
    while (values.Next(&v)) {
      if (v.size() < 9) throw std::runtime_error("malformed posting for term '" + std::string(key) + "'");
      search::Posting p;
      p.doc = DecodeUint64(v);  // its first 8 bytes
      std::from_chars(v.data() + 8, v.data() + v.size(), p.tf);
      postings_.push_back(p);
    }
    search::EncodeTerm(key, &postings_, static_cast<size_t>(std::max(1, FLAGS_chunk_postings)),
                       [&ctx](std::string_view k, std::string_view value) { ctx.Emit(k, value); });
  }

 private:
  std::vector<search::Posting> postings_;
};

JobSpec MakeSpec() {
  JobSpec spec;
  spec.name = "inverted_index";
  spec.mapper = [] { return std::make_unique<DocMapper>(); };
  spec.reducer = [] { return std::make_unique<PostingsReducer>(); };
  spec.output_block_kb = 16;  // a query decompresses one block per chunk it reads at random
  // Map output keys are terms; the reducer writes TERM NUL CHUNK keys. Both hash on the term.
  return spec;
}

}  // namespace

SAWMILL_JOB_MAIN("inverted_index: term -> postings (document, term frequency) of text documents (DOCID<TAB>TEXT "
                 "lines, other lines, or log records), sorted and partitioned by term; query with sawmill index query.",
                 MakeSpec)
