#include "mapreduce/input_split.h"

#include <algorithm>

#include "common/decompress.h"
#include "common/file.h"
#include "common/local_fs.h"
#include "logs/log_archive.h"
#include "records/record_file.h"

namespace sawmill {

Result<std::vector<std::string>> ExpandInput(const std::string& input) {
  if (logs::IsLogInput(input)) {
    ASSIGN_OR_RETURN(auto selections, logs::ResolveLogInput(input));
    std::vector<std::string> files;
    for (const auto& s : selections) files.push_back(s.path);
    return files;
  }
  ASSIGN_OR_RETURN(ResolvedPath r, ResolvePath(input));
  auto info = r.fs->Stat(r.path);
  if (!info.ok()) {
    if (info.status().code() == StatusCode::kNotFound) return NotFound("input path does not exist: " + input);
    return info.status();
  }
  if (!info->is_dir) return std::vector<std::string>{input};
  ASSIGN_OR_RETURN(auto entries, r.fs->List(r.path));
  std::vector<std::string> files;
  for (const auto& e : entries) {
    std::string name = Basename(e.path);
    if (name.empty() || name[0] == '_' || name[0] == '.' || e.is_dir) continue;
    files.push_back(JoinPath(input, name));
  }
  return files;
}

// The selected blocks of each selected segment, in splits of about split_bytes.
static Status AddLogSplits(const std::string& input, uint64_t split_bytes, std::vector<InputSplit>* out) {
  ASSIGN_OR_RETURN(auto selections, logs::ResolveLogInput(input));
  for (const auto& sel : selections) {
    ASSIGN_OR_RETURN(auto reader, RecordFileReader::Open(sel.path));
    const auto& blocks = reader->blocks();
    for (uint64_t b = sel.first_block; b < sel.end_block;) {
      InputSplit s{sel.path, b, 0, 0};
      s.log_filter = true;
      s.min_offset = sel.min_offset;
      s.max_offset = sel.max_offset;
      s.min_time_ms = sel.min_time_ms;
      s.max_time_ms = sel.max_time_ms;
      while (b < sel.end_block && (s.length == 0 || s.bytes < split_bytes)) {
        s.bytes += kBlockHeaderSize + blocks[b].stored_size;
        ++s.length;
        ++b;
      }
      out->push_back(std::move(s));
    }
  }
  return Status::Ok();
}

static Status AddRecordFileSplits(const std::string& path, uint64_t split_bytes,
                                  std::vector<InputSplit>* out) {
  ASSIGN_OR_RETURN(auto reader, RecordFileReader::Open(path));
  const auto& blocks = reader->blocks();
  size_t b = 0;
  while (b < blocks.size()) {
    InputSplit s{path, b, 0, 0};
    while (b < blocks.size() && (s.length == 0 || s.bytes < split_bytes)) {
      s.bytes += kBlockHeaderSize + blocks[b].stored_size;
      ++s.length;
      ++b;
    }
    out->push_back(std::move(s));
  }
  return Status::Ok();
}

Result<std::vector<InputSplit>> ComputeSplits(const std::vector<std::string>& inputs,
                                              InputFormat format, uint64_t split_bytes,
                                              size_t fixed_record_bytes) {
  if (split_bytes == 0) split_bytes = 1;
  std::vector<InputSplit> splits;
  for (const auto& input : inputs) {
    ASSIGN_OR_RETURN(auto files, ExpandInput(input));
    for (const auto& path : files) {
      if (format == InputFormat::kRecordFile) {
        RETURN_IF_ERROR(AddRecordFileSplits(path, split_bytes, &splits));
        continue;
      }
      ASSIGN_OR_RETURN(ResolvedPath r, ResolvePath(path));
      ASSIGN_OR_RETURN(FileInfo info, r.fs->Stat(r.path));
      uint64_t size = info.size;
      if (size > 0) {
        // A compressed file cannot be read from the middle: one split, decompressed whole.
        ASSIGN_OR_RETURN(auto file, r.fs->OpenRead(r.path));
        ASSIGN_OR_RETURN(Compression c, FileCompression(*file));
        if (c != Compression::kNone) {
          splits.push_back({path, 0, size, size});
          continue;
        }
      }
      uint64_t step = split_bytes;
      if (format == InputFormat::kFixedWidth) {
        if (size % fixed_record_bytes != 0) {
          return InvalidArgument(path + ": size " + std::to_string(size) + " is not a multiple of the " +
                                 std::to_string(fixed_record_bytes) + "-byte record size");
        }
        step = std::max<uint64_t>(1, split_bytes / fixed_record_bytes) * fixed_record_bytes;
      }
      for (uint64_t off = 0; off < size; off += step) {
        uint64_t len = std::min(step, size - off);
        splits.push_back({path, off, len, len});
      }
    }
  }
  return splits;
}

Result<InputSplit> WholeFileSplit(const std::string& path, InputFormat format, int input_index) {
  InputSplit s{path, 0, 0, 0};
  s.input_index = input_index;
  if (format == InputFormat::kRecordFile) {
    ASSIGN_OR_RETURN(auto reader, RecordFileReader::Open(path));
    s.length = reader->blocks().size();
    const auto& blocks = reader->blocks();
    for (size_t b = 0; b < blocks.size(); ++b) s.bytes += kBlockHeaderSize + blocks[b].stored_size;
  } else {
    ASSIGN_OR_RETURN(ResolvedPath r, ResolvePath(path));
    ASSIGN_OR_RETURN(FileInfo info, r.fs->Stat(r.path));
    s.length = s.bytes = info.size;
  }
  return s;
}

Result<std::vector<InputSplit>> ComputeJobSplits(const JobSpec& spec, const std::vector<std::string>& inputs,
                                                 uint64_t split_bytes) {
  std::vector<InputSplit> all;
  for (size_t i = 0; i < inputs.size(); ++i) {
    InputFormat format = spec.FormatOf(static_cast<int>(i));
    std::vector<InputSplit> splits;
    if (logs::IsLogInput(inputs[i])) {
      RETURN_IF_ERROR(AddLogSplits(inputs[i], split_bytes, &splits));
    } else if (spec.whole_file_splits) {
      // Exactly one split per file, empty files included: task i must exist for part i.
      ASSIGN_OR_RETURN(auto files, ExpandInput(inputs[i]));
      for (const auto& path : files) {
        ASSIGN_OR_RETURN(InputSplit s, WholeFileSplit(path, format));
        splits.push_back(std::move(s));
      }
    } else {
      ASSIGN_OR_RETURN(splits, ComputeSplits({inputs[i]}, format, split_bytes, spec.fixed_record_bytes));
    }
    for (auto& s : splits) {
      s.input_index = static_cast<int>(i);
      all.push_back(std::move(s));
    }
  }
  return all;
}

}  // namespace sawmill
