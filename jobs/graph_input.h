// Edge-list input shared by the graph jobs (pagerank, connected_components): TSV lines
// src<TAB>dst, page names mapped to 64-bit ids.
#pragma once

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/codec.h"
#include "api/dataflow.h"

namespace sawmill::graph {

using Id = uint64_t;
// Ids above every page's, for per-iteration globals.
constexpr Id kReservedIds = 2;
constexpr Id kHashed = 1ull << 63;

// Decimal names without leading zeros below 2^63 are their own ids (and need no name table);
// other names hash into the upper half, where jobs check for collisions when they read names.
inline Id PageId(std::string_view name, bool* numeric) {
  uint64_t v = 0;
  auto r = std::from_chars(name.data(), name.data() + name.size(), v);
  *numeric = r.ec == std::errc() && r.ptr == name.data() + name.size() && v < kHashed &&
             (name.size() == 1 || name[0] != '0');
  if (*numeric) return v;
  return (Fingerprint64(name) | kHashed) % (~0ull - kReservedIds + 1);
}

// The name of an id whose name is a number.
inline std::string NumericName(Id id) { return std::to_string(id); }

// Splits "src<TAB>dst" (a trailing CR dropped); false for anything else.
inline bool ParseEdge(std::string_view line, std::string_view* src, std::string_view* dst) {
  size_t tab = line.find('\t');
  if (tab == std::string_view::npos || tab == 0 || tab + 1 >= line.size()) return false;
  *src = line.substr(0, tab);
  *dst = line.substr(tab + 1);
  if (!dst->empty() && dst->back() == '\r') dst->remove_suffix(1);
  return !dst->empty() && dst->find('\t') == std::string_view::npos;
}

// The common line "digits<TAB>digits" (a trailing CR dropped) whose names are both their own ids
// (no leading zero, at most 18 digits), parsed in one pass; false for any other line, which
// ParseEdge and PageId then take (the same ids for these lines, and the errors for others).
// Scanning each byte once instead of three times: PageRank's in-links stage parses 10 M lines.
inline bool ParseNumericEdge(std::string_view line, Id* src, Id* dst) {
  const char* p = line.data();
  const char* end = p + line.size();
  if (p != end && end[-1] == '\r') --end;
  auto number = [&](Id* out) {
    const char* start = p;
    uint64_t v = 0;
    for (; p != end && static_cast<unsigned char>(*p - '0') < 10; ++p) v = v * 10 + static_cast<uint64_t>(*p - '0');
    const size_t digits = static_cast<size_t>(p - start);
    *out = v;
    return digits > 0 && digits <= 18 && (digits == 1 || *start != '0');
  };
  if (!number(src) || p == end || *p != '\t') return false;
  ++p;
  return number(dst) && p == end;
}

// The ids of a line's two pages (ParseNumericEdge's one pass for the common line, else
// ParseEdge and PageId); false for a malformed line.
inline bool EdgeIds(std::string_view line, Id* src, Id* dst) {
  if (ParseNumericEdge(line, src, dst)) return true;
  std::string_view a, b;
  if (!ParseEdge(line, &a, &b)) return false;
  bool numeric;
  *src = PageId(a, &numeric);
  *dst = PageId(b, &numeric);
  return true;
}

// Sorts ids ascending: std::sort for short lists; for long ones (a hub's thousands of
// in-neighbours) an LSD radix sort over the low bytes in which the ids differ.
inline void SortIds(std::vector<Id>* ids) {
  const size_t n = ids->size();
  if (n < 1024) {
    std::sort(ids->begin(), ids->end());
    return;
  }
  uint64_t differ = 0;
  const Id first = (*ids)[0];
  for (Id x : *ids) differ |= x ^ first;
  int bytes = 0;
  while (bytes < 8 && (differ >> (8 * bytes)) != 0) ++bytes;
  thread_local std::vector<Id> scratch;
  scratch.resize(n);
  Id* from = ids->data();
  Id* to = scratch.data();
  for (int b = 0; b < bytes; ++b) {
    const int shift = 8 * b;
    size_t count[257] = {};
    for (size_t i = 0; i < n; ++i) ++count[((from[i] >> shift) & 0xff) + 1];
    for (int d = 0; d < 256; ++d) count[d + 1] += count[d];
    for (size_t i = 0; i < n; ++i) to[count[(from[i] >> shift) & 0xff]++] = from[i];
    std::swap(from, to);
  }
  if (from != ids->data()) std::copy(from, from + n, ids->data());
}

// (id, name) of the pages whose names are not numbers, partitioned by id like the jobs' other
// datasets; two names with one id fail the job.
inline auto PageNames(const df::Dataset<std::string_view>& lines, int partitions) {
  using Name = std::pair<Id, std::string>;
  return lines
      .FlatMap<Name>([](std::string_view line, const df::Emitter<Name>& emit) {
        Id s, t;
        if (ParseNumericEdge(line, &s, &t)) return;  // no names to keep
        std::string_view src, dst;
        if (!ParseEdge(line, &src, &dst)) return;
        for (std::string_view n : {src, dst}) {
          bool numeric;
          Id id = PageId(n, &numeric);
          if (!numeric) emit(Name(id, std::string(n)));
        }
      })
      .ReduceByKey(
          [](const std::string& a, const std::string& b) {
            if (a != b) throw std::runtime_error("page names '" + a + "' and '" + b + "' have the same 64-bit id");
            return a;
          },
          partitions);
}

// Writes (page name, text) records sorted by page name: the graph jobs' output.
inline void WriteByPage(const df::Dataset<std::pair<std::string, std::string>>& rows, int partitions,
                        const std::string& path) {
  rows.SortBy([](const std::pair<std::string, std::string>& p) { return p.first; }, df::Order::kAscending, partitions)
      .Write(path);
}

}  // namespace sawmill::graph
