// Facts the join strategies are chosen from: input sizes, formats and column counts, and the
// hot keys of a sample of the large side.
#include <algorithm>
#include <map>

#include "common/file.h"
#include "common/local_fs.h"
#include "join/join.h"
#include "join/join_internal.h"
#include "mapreduce/input_split.h"
#include "mapreduce/split_reader.h"
#include "mapreduce/task.h"
#include "mapreduce/task_context.h"
#include "records/manifest.h"
#include "records/record_file.h"

namespace sawmill {
namespace {

int Columns(std::string_view s) { return 1 + static_cast<int>(std::count(s.begin(), s.end(), '\t')); }

struct CountingSink {
  Status Add(std::string_view, std::string_view) { return Status::Ok(); }
};

}  // namespace

Result<JoinInputFacts> InspectJoinInput(const std::string& input) {
  JoinInputFacts f;
  ASSIGN_OR_RETURN(f.files, ExpandInput(input));
  ASSIGN_OR_RETURN(ResolvedPath in, ResolvePath(input));
  ASSIGN_OR_RETURN(FileInfo info, in.fs->Stat(in.path));
  if (info.is_dir) {
    ASSIGN_OR_RETURN(f.has_manifest, FsExists(JoinPath(input, kManifestName)));
  }
  for (const auto& file : f.files) {
    ASSIGN_OR_RETURN(ResolvedPath r, ResolvePath(file));
    ASSIGN_OR_RETURN(FileInfo info, r.fs->Stat(r.path));
    f.bytes += info.size;
  }
  if (f.has_manifest) {
    f.format = InputFormat::kRecordFile;
  } else if (!f.files.empty() && RecordFileReader::Open(f.files[0]).ok()) {
    f.format = InputFormat::kRecordFile;
  }
  // The first row of the first non-empty file.
  for (const auto& file : f.files) {
    ASSIGN_OR_RETURN(InputSplit split, WholeFileSplit(file, f.format));
    SplitReaderOptions ro;
    ro.format = f.format;
    ro.chunk_bytes = 64 << 10;
    ASSIGN_OR_RETURN(auto reader, OpenSplit(split, ro));
    std::string_view k, v;
    if (reader->Next(&k, &v)) {
      f.columns = f.format == InputFormat::kRecordFile ? 1 + Columns(v) : Columns(v);
      break;
    }
    RETURN_IF_ERROR(reader->status());
  }
  return f;
}

Result<std::vector<std::string>> SampleHotKeys(const JoinDef& def, int side, double share, size_t sample_rows) {
  std::vector<std::string> hot;
  JobSpec spec;
  spec.input_format = def.side[side].format;
  ASSIGN_OR_RETURN(auto splits, ComputeJobSplits(spec, {def.side[side].input}, 64 << 20));
  if (splits.empty() || share <= 0) return hot;
  size_t picks = std::min<size_t>(10, splits.size());
  size_t per_split = std::max<size_t>(1, sample_rows / picks);
  std::map<std::string, uint64_t, std::less<>> counts;
  uint64_t total = 0;
  JoinDef quiet = def;
  quiet.strict = false;
  for (size_t i = 0; i < picks; ++i) {
    const InputSplit& split = splits[i * splits.size() / picks];
    ASSIGN_OR_RETURN(auto reader, OpenSplit(split, SplitReaderOptionsFor(spec, split)));
    TaskConfig config;
    TaskStats stats;
    CountingSink sink;
    TaskContextImpl<CountingSink> ctx(config, &stats, &sink);
    ctx.set_input_path(split.path);
    JoinRowReader rows(quiet, side, /*quiet=*/true);
    std::string_view k, v, jk, payload;
    for (size_t n = 0; n < per_split && reader->Next(&k, &v); ++n) {
      ctx.set_record_offset(reader->offset());
      if (!rows.Extract(k, v, ctx, &jk, &payload)) continue;
      auto it = counts.find(jk);
      if (it == counts.end()) it = counts.emplace(std::string(jk), 0).first;
      ++it->second;
      ++total;
    }
    RETURN_IF_ERROR(reader->status());
  }
  // Too few rows say nothing about skew.
  if (total < 1000) return hot;
  for (const auto& [k, n] : counts) {
    if (static_cast<double>(n) > share * static_cast<double>(total)) hot.push_back(k);
  }
  return hot;
}

}  // namespace sawmill
