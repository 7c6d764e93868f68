// The runtime's TaskContext: counters, seed and the Emit target of one task attempt.
#pragma once

#include <stdexcept>

#include "mapreduce/task.h"
#include "mapreduce/user_code.h"
#include "mapreduce/user_code_errors.h"

namespace sawmill {

// Thrown by Emit when the runtime fails under user code (e.g. a spill cannot be written), so
// that the error unwinds through Map()/Reduce() and the task reports the Status.
class RuntimeError : public std::runtime_error {
 public:
  explicit RuntimeError(Status s) : std::runtime_error(s.ToString()), status_(std::move(s)) {}
  const Status& status() const { return status_; }

 private:
  Status status_;
};

// Where a map task's EmitToTail records go (jobs with a tail reducer).
class TailSink {
 public:
  virtual ~TailSink() = default;
  virtual Status Add(std::string_view key, std::string_view value) = 0;
};

// Sink is any type with `Status Add(std::string_view key, std::string_view value)`; making it
// a template parameter lets Emit call the collector directly (one virtual call per record).
template <typename Sink>
class TaskContextImpl final : public TaskContext {
 public:
  TaskContextImpl(const TaskConfig& config, TaskStats* stats, Sink* sink)
      : config_(config), stats_(stats), sink_(sink) {}
  ~TaskContextImpl() override { stats_->records_out += emitted_; }

  void Emit(std::string_view key, std::string_view value) override {
    ++emitted_;  // a member, not stats_: tasks' stats share cache lines
    Status s = sink_->Add(key, value);
    if (__builtin_expect(!s.ok(), 0)) throw RuntimeError(std::move(s));
  }
  void EmitToTail(std::string_view key, std::string_view value) override {
    if (!tail_) TaskContext::EmitToTail(key, value);
    Status s = tail_->Add(key, value);
    if (__builtin_expect(!s.ok(), 0)) throw RuntimeError(std::move(s));
  }
  void Increment(std::string_view counter, int64_t delta) override {
    auto it = stats_->counters.find(counter);
    if (it == stats_->counters.end()) it = stats_->counters.emplace(std::string(counter), 0).first;
    it->second += delta;
  }
  uint64_t seed() const override { return config_.seed; }
  int task_index() const override { return config_.task_index; }
  int num_reducers() const override { return config_.num_partitions; }
  std::string_view input_path() const override { return input_path_; }
  uint64_t record_offset() const override { return record_offset_; }
  int input_index() const override { return input_index_; }
  std::string_view cache_dir() const override { return config_.cache_dir; }
  std::string_view work_dir() const override { return config_.work_dir; }

  uint64_t emitted() const { return emitted_; }
  void set_input_path(std::string_view p) { input_path_ = p; }
  void set_record_offset(uint64_t o) { record_offset_ = o; }
  void set_input_index(int i) { input_index_ = i; }
  void set_tail(TailSink* tail) { tail_ = tail; }

 private:
  const TaskConfig& config_;
  TaskStats* stats_;
  Sink* sink_;
  uint64_t emitted_ = 0;
  std::string_view input_path_;
  uint64_t record_offset_ = 0;
  int input_index_ = 0;
  TailSink* tail_ = nullptr;
};

// Runs user code, turning an exception into a Status whose message starts with where()
// (computed only on failure: the split and offset, or the key).
template <typename Where, typename Fn>
Status CallUserCode(Where&& where, Fn&& fn) {
  try {
    fn();
    return Status::Ok();
  } catch (const RuntimeError& e) {
    return e.status();
  } catch (const std::exception& e) {
    return Aborted(std::string(where()) + ": " + e.what());
  } catch (...) {
    return Aborted(std::string(where()) + ": unknown exception");
  }
}

}  // namespace sawmill
