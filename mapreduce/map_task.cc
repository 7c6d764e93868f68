// A map task: read a split, run the mapper, collect output (sort buffer, hash aggregation, or
// straight to a part file in map-only jobs), spill sorted runs, merge them into one map output
// file partitioned and sorted by key.
#include <algorithm>
#include <memory>

#include "common/file.h"
#include "common/local_fs.h"
#include "mapreduce/dense_aggregator.h"
#include "mapreduce/hash_aggregator.h"
#include "mapreduce/merger.h"
#include "mapreduce/split_reader.h"
#include "mapreduce/task.h"
#include "mapreduce/task_context.h"
#include "records/record_file.h"

namespace sawmill {
namespace {

RecordFileOptions IntermediateOptions(const TaskConfig& c) {
  RecordFileOptions o;
  o.block_bytes = c.block_bytes;
  o.compress = c.compress_intermediate;
  o.sorted = false;  // spills and map outputs are sorted within partitions, not checked here
  return o;
}

// Spill files and the final merge, shared by both sorting collectors.
class SpillSet {
 public:
  SpillSet(const TaskConfig& c, const Combiner* combiner, TaskStats* stats)
      : config_(c), combiner_(combiner), stats_(stats) {}

  // Opens the next spill file (or the final output when `final`).
  Result<std::unique_ptr<RecordFileWriter>> Open(bool final) {
    std::string path = final ? config_.output_path
                             : JoinPath(config_.work_dir, "spill-" + std::to_string(spills_.size()));
    if (!final) {
      spills_.push_back(path);
      ++stats_->spills;
    }
    return RecordFileWriter::Create(path, IntermediateOptions(config_));
  }
  bool empty() const { return spills_.empty(); }
  // Merges every spill into the map output file.
  Status MergeToOutput() {
    std::vector<int32_t> partitions(config_.num_partitions);
    for (int p = 0; p < config_.num_partitions; ++p) partitions[p] = p;
    MergeOptions mo;
    mo.merge_factor = config_.merge_factor;
    mo.combiner = combiner_;
    mo.file_options = IntermediateOptions(config_);
    mo.tmp_prefix = JoinPath(config_.work_dir, "spills");
    RETURN_IF_ERROR(MergeFiles(spills_, partitions, config_.output_path, mo));
    // The map output's size (the job's shuffle_bytes), as Finish records it without spills.
    ASSIGN_OR_RETURN(ResolvedPath r, ResolvePath(config_.output_path));
    ASSIGN_OR_RETURN(FileInfo info, r.fs->Stat(r.path));
    stats_->bytes_out = info.size;
    return Status::Ok();
  }
  Status Finish(RecordFileWriter* w) {
    RETURN_IF_ERROR(w->Finish());
    stats_->bytes_out = w->file_size();
    return Status::Ok();
  }

 private:
  const TaskConfig& config_;
  const Combiner* combiner_;
  TaskStats* stats_;
  std::vector<std::string> spills_;
};

// Sort-buffer collector: (partition, prefix, offset) entries, spilled when full.
class SortingCollector {
 public:
  SortingCollector(const TaskConfig& c, SortBuffer* buffer, const Combiner* combiner, TaskStats* stats)
      : config_(c), buf_(buffer), combiner_(combiner), spills_(c, combiner, stats) {
    buf_->Clear();
  }

  Status Add(std::string_view key, std::string_view value) {
    uint32_t p = config_.num_partitions == 1
                     ? 0
                     : static_cast<uint32_t>(config_.partitioner->Partition(key, config_.num_partitions));
    if (__builtin_expect(buf_->Add(p, key, value), 1)) return Status::Ok();
    RETURN_IF_ERROR(Spill(false));
    if (buf_->Add(p, key, value)) return Status::Ok();
    // Larger than the whole buffer: a spill of its own.
    ASSIGN_OR_RETURN(auto w, spills_.Open(false));
    RETURN_IF_ERROR(w->StartPartition(static_cast<int32_t>(p)));
    RETURN_IF_ERROR(w->Add(key, value));
    return w->Finish();
  }

  Status Finish() {
    if (spills_.empty()) return Spill(true);
    if (!buf_->empty()) RETURN_IF_ERROR(Spill(false));
    return spills_.MergeToOutput();
  }

 private:
  Status Spill(bool final) {
    buf_->Sort();
    ASSIGN_OR_RETURN(auto w, spills_.Open(final));
    CombiningWriter out(w.get(), combiner_);
    constexpr size_t kAhead = 8;  // sorted entries point all over the arena: fetch ahead
    for (size_t i = 0, n = buf_->size(); i < n; ++i) {
      if (i + kAhead < n) buf_->Prefetch(buf_->entry(i + kAhead));
      const SortBuffer::Entry& e = buf_->entry(i);
      RETURN_IF_ERROR(out.Add(static_cast<int32_t>(e.partition), buf_->key(e), buf_->value(e)));
    }
    RETURN_IF_ERROR(out.Flush());
    buf_->Clear();
    return final ? spills_.Finish(w.get()) : w->Finish();
  }

  const TaskConfig& config_;
  SortBuffer* buf_;
  const Combiner* combiner_;
  SpillSet spills_;
};

// Hash-aggregating collector: folds values per key as they are emitted; with a dense table
// (JobSpec::dense_keys), small integer keys fold into an array instead.
class HashCollector {
 public:
  // At most one of `dense` (folding) and `lists` (appending) is given.
  HashCollector(const TaskConfig& c, HashAggregator* agg, DenseAggregator* dense, DenseLists* lists,
                const Combiner* combiner, const Partitioner* partitioner, TaskStats* stats)
      : config_(c), agg_(*agg), dense_(dense), lists_(lists), partitioner_(partitioner), spills_(c, combiner, stats) {
    // The dense table takes at most a quarter of the task's memory (lists: a half), the hash
    // table the rest.
    size_t dense_bytes = dense ? c.memory_bytes / 4 : lists ? c.memory_bytes / 2 : 0;
    agg_.Reset(combiner, c.memory_bytes - dense_bytes);
    if (dense_) dense_->Reset(combiner, dense_bytes);
    if (lists_) lists_->Reset(dense_bytes);
  }

  Status Add(std::string_view key, std::string_view value) {
    if (dense_ && dense_->Add(key, value)) return Status::Ok();
    if (lists_ && lists_->Add(key, value)) return lists_->Full() ? Spill(false) : Status::Ok();
    agg_.Add(key, value);
    if (__builtin_expect(agg_.Full(), 0)) return Spill(false);
    return Status::Ok();
  }
  Status Finish() {
    if (spills_.empty()) return Spill(true);
    if (!agg_.empty() || (dense_ && !dense_->empty()) || (lists_ && !lists_->empty())) RETURN_IF_ERROR(Spill(false));
    return spills_.MergeToOutput();
  }

 private:
  // Both tables' entries, merged in (partition, key) order.
  Status Spill(bool final) {
    ASSIGN_OR_RETURN(auto w, spills_.Open(final));
    int32_t partition = kNoPartition;
    auto add = [&](int32_t p, std::string_view key, std::string_view value) -> Status {
      if (p != partition) {
        partition = p;
        RETURN_IF_ERROR(w->StartPartition(partition));
      }
      return w->Add(key, value);
    };
    // Folding the records still staged calls the combiner: outside the mapper's calls when the
    // task finishes, so its exceptions stop here.
    auto combining = [&] { return "map task " + std::to_string(config_.task_index) + " combining its output"; };
    const std::vector<const HashAggregator::Slot*>* sorted = nullptr;
    RETURN_IF_ERROR(CallUserCode(combining, [&] { sorted = &agg_.Sorted(*partitioner_, config_.num_partitions); }));
    const auto& hashed = *sorted;
    size_t h = 0;
    auto hashed_before = [&](int32_t p, std::string_view key) {
      if (h == hashed.size()) return false;
      int32_t hp = static_cast<int32_t>(agg_.partition(*hashed[h]));
      return hp != p ? hp < p : agg_.key(*hashed[h]) < key;
    };
    Status s;
    auto merge = [&](auto* table) {
      table->ForEachSorted(partitioner_, config_.num_partitions, [&](int32_t p, std::string_view k, std::string_view v) {
        while (s.ok() && hashed_before(p, k)) {
          s = add(static_cast<int32_t>(agg_.partition(*hashed[h])), agg_.key(*hashed[h]), agg_.value(*hashed[h]));
          ++h;
        }
        if (s.ok()) s = add(p, k, v);
      });
      table->Clear();
    };
    if (dense_) RETURN_IF_ERROR(CallUserCode(combining, [&] { merge(dense_); }));
    if (lists_) merge(lists_);
    RETURN_IF_ERROR(s);
    for (; h < hashed.size(); ++h) {
      RETURN_IF_ERROR(add(static_cast<int32_t>(agg_.partition(*hashed[h])), agg_.key(*hashed[h]), agg_.value(*hashed[h])));
    }
    agg_.Clear();
    return final ? spills_.Finish(w.get()) : w->Finish();
  }

  const TaskConfig& config_;
  HashAggregator& agg_;
  DenseAggregator* dense_;
  DenseLists* lists_;
  const Partitioner* partitioner_;
  SpillSet spills_;
};

// Map-only jobs: records go straight to the part file, in emit order.
class DirectCollector {
 public:
  explicit DirectCollector(RecordFileWriter* w) : w_(w) {}
  Status Add(std::string_view key, std::string_view value) { return w_->Add(key, value); }

 private:
  RecordFileWriter* w_;
};

// A map-only job's records for its tail reducer: sorted like a one-partition map output, into
// the task's tail output file.
class TailCollector final : public TailSink {
 public:
  TailCollector(const TaskConfig& c, SortBuffer* buffer)
      : config_(TailConfig(c)), sorting_(config_, buffer, nullptr, &stats_) {}

  Status Add(std::string_view key, std::string_view value) override { return sorting_.Add(key, value); }
  Status Finish(TaskStats* stats) {
    RETURN_IF_ERROR(sorting_.Finish());
    stats->tail_bytes = stats_.bytes_out;
    stats->spills += stats_.spills;
    return Status::Ok();
  }

 private:
  static TaskConfig TailConfig(const TaskConfig& c) {
    TaskConfig t = c;
    t.output_path = c.tail_output_path;
    t.num_partitions = 1;
    t.partitioner = nullptr;
    return t;
  }

  TaskConfig config_;
  TaskStats stats_;
  SortingCollector sorting_;
};

std::string SplitName(const InputSplit& s, const JobSpec& spec) {
  if (SplitFormat(spec, s) == InputFormat::kRecordFile) {
    return s.path + " blocks " + std::to_string(s.offset) + "+" + std::to_string(s.length);
  }
  return s.path + " bytes " + std::to_string(s.offset) + "+" + std::to_string(s.length);
}

template <typename Sink>
Status MapLoop(const TaskConfig& c, const InputSplit& split, Sink* sink, TaskStats* stats, TailSink* tail = nullptr) {
  const JobSpec& spec = *c.spec;
  SplitReaderOptions ro = SplitReaderOptionsFor(spec, split);

  std::string where = "map task " + std::to_string(c.task_index) + " (" + SplitName(split, spec) + ")";
  auto reader_or = OpenSplit(split, ro);
  if (!reader_or.ok()) return reader_or.status().WithContext(where);
  SplitReader& reader = **reader_or;
  std::unique_ptr<Mapper> mapper = spec.NewMapper(split.input_index);
  TaskContextImpl<Sink> ctx(c, stats, sink);
  ctx.set_input_path(split.path);
  ctx.set_input_index(split.input_index);
  ctx.set_tail(tail);
  RETURN_IF_ERROR(CallUserCode([&] { return where + " setup"; }, [&] { mapper->Setup(ctx); }));
  std::string_view key, value;
  uint64_t n = 0;
  auto at = [&] { return where + " at input offset " + std::to_string(reader.offset()); };
  // Progress counts the split's bytes as its records are read (never read-ahead past its end).
  uint64_t reported = 0;
  auto report = [&](uint64_t upto) {
    if (c.progress && upto > reported) c.progress->bytes_read.fetch_add(upto - reported, std::memory_order_relaxed);
    reported = std::max(reported, upto);
  };
  bool byte_offsets = ro.format != InputFormat::kRecordFile;
  Status s = CallUserCode(at, [&] {
    while (reader.Next(&key, &value)) {
      ++n;
      ctx.set_record_offset(reader.offset());
      mapper->Map(key, value, ctx);
      if (byte_offsets && (n & 4095) == 0) report(std::min(reader.offset() - split.offset, split.bytes));
    }
  });
  report(split.bytes);
  stats->records_in = n;
  RETURN_IF_ERROR(s);
  RETURN_IF_ERROR(reader.status());
  return CallUserCode([&] { return where + " finish"; }, [&] { mapper->Finish(ctx); });
}

}  // namespace

uint64_t TaskSeed(uint64_t job_seed, bool reduce, int index) {
  uint64_t x = job_seed ^ (reduce ? 0x9e3779b97f4a7c15ull : 0x6a09e667f3bcc909ull) ^ (static_cast<uint64_t>(index) << 20);
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  return x ^ (x >> 33);
}

Status RunMapTask(const TaskConfig& c, const InputSplit& split, MapBuffers* buffers, TaskStats* stats) {
  const JobSpec& spec = *c.spec;
  if (!spec.reducer) {
    RecordFileOptions o;
    o.block_bytes = spec.output_block_kb > 0 ? spec.output_block_kb << 10 : c.block_bytes;
    o.partition = c.task_index;
    o.replication = c.output_replication;
    o.compress = spec.compress_output;
    ASSIGN_OR_RETURN(auto w, RecordFileWriter::Create(c.output_path, o));
    DirectCollector sink(w.get());
    std::unique_ptr<TailCollector> tail;
    if (spec.tail_reducer) {
      if (c.tail_output_path.empty()) return InvalidArgument("map task " + std::to_string(c.task_index) + ": no tail output");
      if (!buffers->sort_buffer) buffers->sort_buffer = std::make_unique<SortBuffer>(c.memory_bytes);
      tail = std::make_unique<TailCollector>(c, buffers->sort_buffer.get());
    }
    RETURN_IF_ERROR(MapLoop(c, split, &sink, stats, tail.get()));
    if (tail) RETURN_IF_ERROR(tail->Finish(stats));
    RETURN_IF_ERROR(w->Finish());
    stats->bytes_out = w->file_size();
    stats->content_hash = w->ContentHash();
    return Status::Ok();
  }
  std::unique_ptr<Combiner> combiner = spec.combiner ? spec.combiner() : nullptr;
  if (combiner && spec.hash_aggregation) {
    if (!buffers->aggregator) buffers->aggregator = std::make_unique<HashAggregator>(combiner.get(), c.memory_bytes);
    DenseAggregator* dense = nullptr;
    DenseLists* lists = nullptr;
    if (spec.dense_keys && combiner->fixed_size() > 0) {
      if (!buffers->dense) buffers->dense = std::make_unique<DenseAggregator>(combiner.get(), 0);
      dense = buffers->dense.get();
    } else if (spec.dense_keys && combiner->appends()) {
      if (!buffers->lists) buffers->lists = std::make_unique<DenseLists>();
      lists = buffers->lists.get();
    }
    HashCollector sink(c, buffers->aggregator.get(), dense, lists, combiner.get(), c.partitioner, stats);
    RETURN_IF_ERROR(MapLoop(c, split, &sink, stats));
    return sink.Finish();
  }
  if (!buffers->sort_buffer) buffers->sort_buffer = std::make_unique<SortBuffer>(c.memory_bytes);
  SortingCollector sink(c, buffers->sort_buffer.get(), combiner.get(), stats);
  RETURN_IF_ERROR(MapLoop(c, split, &sink, stats));
  return sink.Finish();
}

}  // namespace sawmill
