#include "mapreduce/merger.h"

#include "common/file.h"
#include "mapreduce/task_context.h"

namespace sawmill {

Status CombiningWriter::Add(int32_t partition, std::string_view key, std::string_view value) {
  if (combiner_ == nullptr) {
    if (partition != partition_) {
      RETURN_IF_ERROR(out_->StartPartition(partition));
      partition_ = partition;
    }
    return out_->Add(key, value);
  }
  if (pending_ && partition == partition_ && key == std::string_view(key_)) {
    // Spills and merges run outside the map and reduce calls: the combiner's exceptions stop here.
    return CallUserCode([&] { return "combining key '" + PrintableKey(key_) + "'"; },
                        [&] { combiner_->Combine(key_, &acc_, value); });
  }
  RETURN_IF_ERROR(Flush());
  if (partition != partition_) {
    RETURN_IF_ERROR(out_->StartPartition(partition));
    partition_ = partition;
  }
  key_.assign(key);
  acc_.assign(value);
  pending_ = true;
  return Status::Ok();
}

Status CombiningWriter::Flush() {
  if (!pending_) return Status::Ok();
  pending_ = false;
  return out_->Add(key_, acc_);
}

Result<std::unique_ptr<PartitionMerge>> PartitionMerge::Open(const std::vector<std::string>& files,
                                                             int32_t partition) {
  std::unique_ptr<PartitionMerge> m(new PartitionMerge());
  std::vector<RecordIterator*> sources;
  for (const auto& f : files) {
    ASSIGN_OR_RETURN(auto reader, RecordFileReader::Open(f));
    auto [first, end] = partition == kNoPartition ? std::pair<size_t, size_t>{0, reader->blocks().size()}
                                                  : reader->PartitionBlocks(partition);
    m->iters_.push_back(std::make_unique<RecordIterator>(reader->NewIterator(first, end)));
    sources.push_back(m->iters_.back().get());
    m->readers_.push_back(std::move(reader));
  }
  m->tree_ = std::make_unique<LoserTree<RecordIterator>>(std::move(sources));
  return m;
}

bool PartitionMerge::Next() {
  if (!started_) {
    started_ = true;
    tree_->Init();
  } else if (current_) {
    tree_->Pop();
  }
  long top = tree_->Top();
  if (top < 0) {
    current_ = nullptr;
    for (const auto& it : iters_) {
      if (!it->status().ok()) {
        status_ = it->status();
        break;
      }
    }
    return false;
  }
  current_ = tree_->source(static_cast<size_t>(top));
  return true;
}

static Status MergeGroup(const std::vector<std::string>& files, const std::vector<int32_t>& partitions,
                         const std::string& output, const MergeOptions& options) {
  RecordFileOptions fo = options.file_options;
  fo.partition = partitions.size() == 1 ? partitions[0] : kNoPartition;
  ASSIGN_OR_RETURN(auto writer, RecordFileWriter::Create(output, fo));
  CombiningWriter out(writer.get(), options.combiner);
  for (int32_t p : partitions) {
    ASSIGN_OR_RETURN(auto merge, PartitionMerge::Open(files, p));
    while (merge->Next()) RETURN_IF_ERROR(out.Add(p, merge->key(), merge->value()));
    RETURN_IF_ERROR(merge->status());
  }
  RETURN_IF_ERROR(out.Flush());
  return writer->Finish();
}

Result<std::vector<std::string>> ReduceFileCount(std::vector<std::string> files,
                                                 const std::vector<int32_t>& partitions,
                                                 const MergeOptions& options, bool delete_inputs) {
  size_t factor = options.merge_factor < 2 ? 2 : static_cast<size_t>(options.merge_factor);
  std::vector<bool> temp(files.size(), delete_inputs);  // may this file be deleted once merged?
  for (int pass = 0; files.size() > factor; ++pass) {
    std::vector<std::string> next;
    std::vector<bool> next_temp;
    for (size_t i = 0; i < files.size(); i += factor) {
      size_t end = std::min(files.size(), i + factor);
      if (end - i == 1) {
        next.push_back(files[i]);
        next_temp.push_back(temp[i]);
        continue;
      }
      std::vector<std::string> group(files.begin() + i, files.begin() + end);
      std::string out = options.tmp_prefix + ".merge-" + std::to_string(pass) + "-" + std::to_string(i / factor);
      RETURN_IF_ERROR(MergeGroup(group, partitions, out, options));
      for (size_t j = i; j < end; ++j) {
        if (temp[j]) RETURN_IF_ERROR(RemoveAll(files[j]));
      }
      next.push_back(std::move(out));
      next_temp.push_back(true);
    }
    files = std::move(next);
    temp = std::move(next_temp);
  }
  return files;
}

Status MergeFiles(std::vector<std::string> files, const std::vector<int32_t>& partitions,
                  const std::string& output, const MergeOptions& options) {
  ASSIGN_OR_RETURN(files, ReduceFileCount(std::move(files), partitions, options, true));
  return MergeGroup(files, partitions, output, options);
}

}  // namespace sawmill
