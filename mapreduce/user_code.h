// The interfaces between the task runtime and a job author's code: Mapper, Reducer, Combiner,
// Partitioner and the context they emit through. Job authors reach them through api/; they are
// declared here so that the runtime depends only downward. Plain C++: no engine types.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace sawmill {

// What user code sees of the running task.
class TaskContext {
 public:
  virtual ~TaskContext() = default;
  // Emits a record: to the shuffle from a map task (or to the output in a map-only job), to the
  // output part from a reduce task. The views are copied before Emit returns.
  virtual void Emit(std::string_view key, std::string_view value) = 0;
  // Jobs with a tail reducer (JobSpec::tail_reducer): sends a record from a map task to the
  // tail, which reduces the records of every map task once they are all done. The job has no
  // tail: std::logic_error.
  virtual void EmitToTail(std::string_view key, std::string_view value) {
    throw std::logic_error("EmitToTail: the job has no tail_reducer");
  }
  // Adds `delta` to a named counter; counters are summed over tasks and shown with the summary.
  virtual void Increment(std::string_view counter, int64_t delta = 1) = 0;
  // Deterministic per task (job seed mixed with the task index), never the wall clock.
  virtual uint64_t seed() const = 0;
  virtual int task_index() const = 0;
  virtual int num_reducers() const = 0;
  // Map tasks: the split's input file, and the byte offset of the current record in it (for
  // text lines and fixed-width records; the block offset for record files; a log record's
  // offset when a text-lines job reads a logs: input). Empty / 0 in reduce.
  virtual std::string_view input_path() const = 0;
  virtual uint64_t record_offset() const = 0;
  // Map tasks: the position of the split's input in the job's input list (tagged inputs).
  virtual int input_index() const { return 0; }
  // A directory shared by the job's attempts on this machine, for data read once per machine
  // (e.g. a broadcast join's small side); empty in local mode, where the process is shared.
  virtual std::string_view cache_dir() const { return {}; }
  // The attempt's private scratch directory (for user code that spills), removed after the task.
  virtual std::string_view work_dir() const { return {}; }
};

// Called once per input record. One instance per map task, used by one thread.
class Mapper {
 public:
  virtual ~Mapper() = default;
  virtual void Setup(TaskContext& ctx) {}
  virtual void Map(std::string_view key, std::string_view value, TaskContext& ctx) = 0;
  // After the last record of the split; may emit.
  virtual void Finish(TaskContext& ctx) {}
};

// The values of one key, in (map task index, emit order). A view stays valid until the next call.
class ValueIterator {
 public:
  virtual ~ValueIterator() = default;
  virtual bool Next(std::string_view* value) = 0;
  // The whole key of the value Next returned last; differs from Reduce's key only in jobs with
  // secondary sort (JobSpec::group_prefix).
  virtual std::string_view key() const = 0;
};

// Called once per distinct key (or key group, with secondary sort), in key order (memcmp). One
// instance per reduce task.
class Reducer {
 public:
  virtual ~Reducer() = default;
  virtual void Setup(TaskContext& ctx) {}
  virtual void Reduce(std::string_view key, ValueIterator& values, TaskContext& ctx) = 0;
  virtual void Finish(TaskContext& ctx) {}
};

// Folds map output values of one key before the shuffle (and while merging spills). Must be
// associative; the runtime folds in emit order, so it need not be commutative.
class Combiner {
 public:
  virtual ~Combiner() = default;
  // Sets *acc to acc ∘ value. `acc` holds an earlier value (or fold of earlier values).
  virtual void Combine(std::string_view key, std::string* acc, std::string_view value) const = 0;
  // Optional fast path for values of one fixed size (counts, sums): when fixed_size() > 0 and
  // both values have that size, the runtime calls CombineFixed(acc, value) instead, which must
  // update the fixed_size() bytes at `acc` in place exactly as Combine would.
  virtual size_t fixed_size() const { return 0; }
  virtual void CombineFixed(char* acc, const char* value) const {}
  // True when Combine appends: acc ∘ value is acc's bytes followed by value's (grouping into
  // lists). The runtime may then gather a key's values in emit order without calling Combine.
  virtual bool appends() const { return false; }
};

// Chooses the reduce partition of a key; must be a pure function of the key.
class Partitioner {
 public:
  virtual ~Partitioner() = default;
  virtual int Partition(std::string_view key, int num_partitions) const = 0;
};

// The default: XXH3 of the key modulo the partition count.
class HashPartitioner final : public Partitioner {
 public:
  int Partition(std::string_view key, int num_partitions) const override;
};

// Total order: keys below split_points[0] go to 0, and so on; needs num_partitions - 1 sorted
// split points.
class RangePartitioner final : public Partitioner {
 public:
  explicit RangePartitioner(std::vector<std::string> split_points);
  int Partition(std::string_view key, int num_partitions) const override;
  const std::vector<std::string>& split_points() const { return points_; }
  // Picks num_partitions - 1 split points at even quantiles of `sample` (sorted in place).
  static std::vector<std::string> PickSplitPoints(std::vector<std::string>* sample, int num_partitions);

 private:
  std::vector<std::string> points_;
};

enum class InputFormat {
  kTextLines,   // key: empty; value: the line without its '\n' (a '\r' is kept); a log record
                // (logs: input): key = its offset (8 bytes big-endian), value = its payload
  kRecordFile,  // the records of record files (part files of an earlier job)
  kFixedWidth,  // fixed-size records (TeraSort's 100 bytes): key = first key_bytes, value = rest
};

}  // namespace sawmill
