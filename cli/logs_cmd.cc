// `sawmill logs archive|ls|stat`: log archives in a local store directory or a cluster's store
// (logs/log_archive.h, docs/logs.md).
#include <algorithm>
#include <chrono>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/store_args.h"
#include "cli/verb_usage.h"
#include "logs/log_append.h"
#include "logs/log_archive.h"

namespace sawmill {
namespace {

// A function-local static, as dfs_cmd.cc's CommandHelp: never destroyed.
const CommandUsage& Usage() {
  static const auto* usage = new CommandUsage{
      "logs",
      "sawmill logs: append-only log archives (docs/logs.md).\n\n",
      {
          {"append",
           "  sawmill logs append (--store DIR | --cluster D) --stream S --partition P\n"
           "                      --format combined|jsonl|lines [--time_field time] [--skip_bad]\n"
           "                      [--segment_mb 64] FILE...\n"
           "      Appends each new complete line of the files (in the order given; list the oldest first,\n"
           "      e.g. access.log.2.gz access.log.1 access.log) as a record at the next offset, the line as\n"
           "      its payload. The time: combined (or common) log format: the [10/Oct/2000:13:55:36 -0700]\n"
           "      field; jsonl: the member --time_field names, RFC 3339 text or epoch milliseconds; lines: the\n"
           "      time of appending. .gz, .zst and .bz2 files are decompressed. The partition's ingestion\n"
           "      ledger remembers how far each file was read, so appending a file again appends nothing, a\n"
           "      grown file only its new lines (an unterminated last line waits), and a rotated copy\n"
           "      (renamed, compressed or both) nothing it already gave. A line without a parsable time fails\n"
           "      the append naming the file and line, and nothing is written; with --skip_bad such lines are\n"
           "      counted and reported. A second append to a partition while one runs fails.\n",
           {"stream", "partition", "format", "time_field", "skip_bad", "segment_mb"}},
          {"archive",
           "  sawmill logs archive (--store DIR | --cluster D) --stream S --partition P [--from FILE|-]\n"
           "                       [--segment_mb 64]\n"
           "      Appends records to /logs/S/P/ as immutable segments. Input lines (FILE or stdin):\n"
           "        OFFSET<TAB>TIMESTAMP_MS<TAB>PAYLOAD\n"
           "      with consecutive offsets; the payload is the rest of the line. Offsets already archived\n"
           "      must carry the same timestamp and payload and are skipped (re-archiving is a no-op); a gap\n"
           "      after the last archived offset, or a different record for an archived offset, is refused\n"
           "      and nothing is written.\n",
           {"stream", "partition", "from", "segment_mb"}},
          {"ls",
           "  sawmill logs ls (--store DIR | --cluster D) [STREAM [PARTITION]]\n"
           "      Streams; a stream's partitions; a partition's segments (offsets, times, records, bytes).\n",
           {}},
          {"stat",
           "  sawmill logs stat (--store DIR | --cluster D) STREAM PARTITION\n"
           "      One partition: segments, offset range, time range, records, bytes.\n",
           {}},
      },
      "  --store DIR: a local directory as the store (local mode); --cluster D: cluster D's file store.\n",
      {"store", "cluster"},
  };
  return *usage;
}

int Fail(const Status& s) {
  std::fprintf(stderr, "error: %s\n", s.message().c_str());
  return s.code() == StatusCode::kInvalidArgument || s.code() == StatusCode::kAlreadyExists ? 2 : 1;
}

std::string Time(int64_t ms) {
  time_t secs = static_cast<time_t>(ms / 1000);
  struct tm t;
  gmtime_r(&secs, &t);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &t);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(((ms % 1000) + 1000) % 1000));
  return out;
}

// One line of any length (without its '\n'); false at the end.
bool ReadLine(FILE* in, std::string* line) {
  line->clear();
  int c;
  bool any = false;
  while ((c = std::fgetc(in)) != EOF) {
    any = true;
    if (c == '\n') return true;
    line->push_back(static_cast<char>(c));
  }
  return any;
}

// Parses "OFFSET<TAB>TIMESTAMP_MS<TAB>PAYLOAD" lines, naming the file and line on errors.
class LineReader {
 public:
  LineReader(FILE* in, std::string name) : in_(in), name_(std::move(name)) {}
  bool Next(logs::LogRecord* r, Status* error) {
    if (!ReadLine(in_, &line_)) return false;
    ++number_;
    std::string_view l = line_;
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    size_t t1 = l.find('\t');
    size_t t2 = t1 == std::string_view::npos ? t1 : l.find('\t', t1 + 1);
    if (t2 == std::string_view::npos) return Bad(error, "want OFFSET<TAB>TIMESTAMP_MS<TAB>PAYLOAD");
    auto off = std::from_chars(l.data(), l.data() + t1, r->offset);
    if (off.ec != std::errc() || off.ptr != l.data() + t1 || t1 == 0) return Bad(error, "bad offset");
    auto ts = std::from_chars(l.data() + t1 + 1, l.data() + t2, r->timestamp_ms);
    if (ts.ec != std::errc() || ts.ptr != l.data() + t2 || t2 == t1 + 1) return Bad(error, "bad timestamp");
    r->payload.assign(l.substr(t2 + 1));
    return true;
  }

 private:
  bool Bad(Status* error, const char* what) {
    *error = InvalidArgument(name_ + ":" + std::to_string(number_) + ": " + what);
    return false;
  }
  FILE* in_;
  std::string name_;
  std::string line_;
  uint64_t number_ = 0;
};

int AppendCommand(Args& args, const std::string& root) {
  std::string stream = args.Get("stream", "");
  int partition = 0;
  uint64_t segment_mb = 64;
  if (!args.GetNumber("partition", 0, &partition, 0) ||
      !args.GetNumber<uint64_t>("segment_mb", 64, &segment_mb, 1, UINT64_MAX >> 20)) {
    return 2;
  }
  if (!args.Has("partition") || stream.empty() || !args.Has("format")) {
    std::fprintf(stderr, "error: logs append needs --stream, --partition and --format\n");
    return 2;
  }
  if (args.positional.empty()) {
    std::fprintf(stderr, "error: logs append needs at least one FILE\n");
    return 2;
  }
  auto format = logs::ParseLineFormat(args.Get("format", ""));
  if (!format.ok() || *format == logs::LineFormat::kTsv) {
    std::fprintf(stderr, "error: bad --format '%s' (want combined, jsonl or lines)\n", args.Get("format", "").c_str());
    return 2;
  }
  logs::AppendOptions o;
  o.format = *format;
  o.time_field = args.Get("time_field", "time");
  o.skip_bad = args.Has("skip_bad") && args.Get("skip_bad", "true") != "false";
  o.now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  o.archive.segment_bytes = segment_mb << 20;
  auto r = logs::Append(root, stream, partition, args.positional, o);
  if (!r.ok()) return Fail(r.status());
  const uint64_t n = r->archive.appended;
  if (n == 0) {
    std::printf("appended nothing to %s/%d\n", stream.c_str(), partition);
  } else {
    std::printf("appended %llu record(s) to %s/%d at offsets %llu-%llu in %zu segment(s)\n",
                static_cast<unsigned long long>(n), stream.c_str(), partition,
                static_cast<unsigned long long>(r->first_offset), static_cast<unsigned long long>(r->first_offset + n - 1),
                r->archive.segments.size());
  }
  for (const auto& s : r->sources) {
    std::string what;
    if (s.shorter) {
      what = "shorter than the bytes already appended from it as " + s.continues + " (truncated?); read nothing";
    } else {
      what = std::to_string(s.appended) + " new line(s)";
      if (s.continues.empty()) {
        what += " (a new source)";
      } else {
        what += " (" + std::string(s.continues == s.path ? "" : "continues " + s.continues + ": ") +
                std::to_string(s.skipped_bytes) + " byte(s) appended before)";
      }
      if (s.bad > 0) what += "; " + std::to_string(s.bad) + " bad line(s) skipped";
      if (s.partial_line) what += "; an unterminated last line waits";
    }
    std::printf("  %s: %s\n", s.path.c_str(), what.c_str());
  }
  if (r->bad > 0) {
    std::printf("skipped %llu bad line(s) (--skip_bad), the first:\n", static_cast<unsigned long long>(r->bad));
    for (const auto& b : r->bad_examples) std::printf("  %s\n", b.c_str());
  }
  return 0;
}

}  // namespace


int LogsCommand(int argc, char** argv) {
  MoveVerbFirst(argc, argv, 2, {"skip_bad"});
  const VerbUsage* verb = nullptr;
  if (int code = Usage().Answer(argc, argv, &verb); code != kRunVerb) return code;
  std::string sub = argv[2];
  Args args;
  if (!Args::Parse(argc, argv, 3, &args, {"skip_bad"}) || !Usage().FlagsOk(args, *verb)) return 2;
  auto opened = OpenStore(args);
  if (!opened.ok()) {
    std::fprintf(stderr, "error: %s\n\n%s", opened.status().message().c_str(), Usage().Of(*verb).c_str());
    return 2;
  }
  const std::string root = opened->root;

  if (sub == "archive") {
    std::string stream = args.Get("stream", "");
    int partition = 0;
    uint64_t segment_mb = 64;
    if (!args.GetNumber("partition", 0, &partition, 0) ||
        !args.GetNumber<uint64_t>("segment_mb", 64, &segment_mb, 0, UINT64_MAX >> 20)) {
      return 2;
    }
    if (!args.Has("partition") || stream.empty()) {
      std::fprintf(stderr, "error: logs archive needs --stream and --partition\n");
      return 2;
    }
    std::string from = args.Get("from", "-");
    FILE* in = from == "-" ? stdin : std::fopen(from.c_str(), "rb");
    if (!in) {
      std::fprintf(stderr, "error: %s: %s\n", from.c_str(), std::strerror(errno));
      return 2;
    }
    LineReader lines(in, from == "-" ? "stdin" : from);
    logs::ArchiveOptions o;
    o.segment_bytes = segment_mb << 20;
    auto r = logs::Archive(root, stream, partition,
                           [&](logs::LogRecord* rec, Status* error) { return lines.Next(rec, error); }, o);
    if (in != stdin) std::fclose(in);
    if (!r.ok()) return Fail(r.status());
    std::printf("archived %llu new record(s) into %zu segment(s); %llu already archived\n",
                static_cast<unsigned long long>(r->appended), r->segments.size(),
                static_cast<unsigned long long>(r->already_archived));
    for (const auto& s : r->segments) std::printf("  %s\n", s.c_str());
    return 0;
  }

  if (sub == "append") return AppendCommand(args, root);

  auto print_segments = [](const std::vector<logs::SegmentInfo>& segs) {
    for (const auto& s : segs) {
      std::printf("%s offsets %llu-%llu records %llu bytes %llu time %s..%s\n", s.path.c_str(),
                  static_cast<unsigned long long>(s.first_offset), static_cast<unsigned long long>(s.last_offset),
                  static_cast<unsigned long long>(s.records), static_cast<unsigned long long>(s.bytes),
                  Time(s.min_time_ms).c_str(), Time(s.max_time_ms).c_str());
    }
  };
  if (sub == "ls") {
    if (args.positional.empty()) {
      auto streams = logs::ListStreams(root);
      if (!streams.ok()) return Fail(streams.status());
      for (const auto& s : *streams) std::printf("%s\n", s.c_str());
      return 0;
    }
    if (args.positional.size() == 1) {
      auto parts = logs::ListPartitions(root, args.positional[0]);
      if (!parts.ok()) return Fail(parts.status());
      for (int p : *parts) std::printf("%s/%d\n", args.positional[0].c_str(), p);
      return 0;
    }
    auto partition = ParseNumber<int>(args.positional[1], "PARTITION", 0);
    if (!partition.ok()) return Fail(partition.status());
    auto segs = logs::ListSegments(root, args.positional[0], *partition);
    if (!segs.ok()) return Fail(segs.status());
    print_segments(*segs);
    return 0;
  }
  if (sub == "stat") {
    if (args.positional.size() != 2) {
      std::fprintf(stderr, "error: logs stat needs STREAM PARTITION\n");
      return 2;
    }
    const std::string& stream = args.positional[0];
    auto parsed = ParseNumber<int>(args.positional[1], "PARTITION", 0);
    if (!parsed.ok()) return Fail(parsed.status());
    const int partition = *parsed;
    auto segs = logs::ListSegments(root, stream, partition);
    if (!segs.ok()) return Fail(segs.status());
    if (segs->empty()) {
      std::printf("%s/%d: no segments\n", stream.c_str(), partition);
      return 0;
    }
    uint64_t records = 0, bytes = 0;
    int64_t lo = segs->front().min_time_ms, hi = segs->front().max_time_ms;
    for (const auto& s : *segs) {
      records += s.records;
      bytes += s.bytes;
      lo = std::min(lo, s.min_time_ms);
      hi = std::max(hi, s.max_time_ms);
    }
    std::printf("%s/%d: segments %zu offsets %llu-%llu records %llu bytes %llu time %s..%s\n", stream.c_str(), partition,
                segs->size(), static_cast<unsigned long long>(segs->front().first_offset),
                static_cast<unsigned long long>(segs->back().last_offset), static_cast<unsigned long long>(records),
                static_cast<unsigned long long>(bytes), Time(lo).c_str(), Time(hi).c_str());
    print_segments(*segs);
    return 0;
  }
  std::fprintf(stderr, "error: no code for logs %s\n", sub.c_str());
  return 2;
}

}  // namespace sawmill
