// Joins of two co-partitioned Sawmill outputs, part by part (docs/joins.md, "partitioned" and
// "merge"): the _MANIFEST checks that make this valid, and the map-only job whose task i joins
// part i of both sides by a hash table (partitioned) or one merge pass over sorted parts (merge).
#include <glog/logging.h>

#include <cerrno>
#include <cstdlib>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/file.h"
#include "common/local_fs.h"
#include "join/join.h"
#include "join/join_buffer.h"
#include "join/join_internal.h"
#include "records/manifest.h"
#include "records/record_file.h"

namespace sawmill {
namespace {

// In-memory share of one merge task's run of equal keys (the other side's rows of the current
// key); a longer run spills to a temp file and is replayed per streamed row. A mapper cannot see
// its task's memory share, so this is a fixed, modest figure.
constexpr size_t kMergeRunMemoryBytes = 32 << 20;

const char* SideName(int side) { return side == 0 ? "left" : "right"; }

// A key for an error message: non-printable bytes as \xNN, long keys cut.
std::string Printable(std::string_view key) {
  static const char kHex[] = "0123456789abcdef";
  std::string out = "'";
  for (size_t i = 0; i < key.size() && i < 64; ++i) {
    unsigned char c = static_cast<unsigned char>(key[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  if (key.size() > 64) out += "...";
  return out + "'";
}

// Reads an input's _MANIFEST; kInvalidArgument when it has none (not a Sawmill output).
Result<Manifest> ReadInputManifest(const std::string& input, int side) {
  const std::string what = std::string(SideName(side)) + " input " + input;
  ASSIGN_OR_RETURN(ResolvedPath dir, ResolvePath(input));
  auto info = dir.fs->Stat(dir.path);
  if (!info.ok() && info.status().code() != StatusCode::kNotFound)
    return info.status().WithContext(what);
  std::string path = JoinPath(input, kManifestName);
  bool exists = false;
  if (info.ok() && info->is_dir) {
    ASSIGN_OR_RETURN(exists, FsExists(path));
  }
  if (!exists) {
    return InvalidArgument(
        what +
        (!info.ok()      ? " does not exist"
         : !info->is_dir ? " is a file"
                         : " has no _MANIFEST") +
        ": partitioned and merge joins need a Sawmill output with a _MANIFEST (run it through "
        "keyby, or use the reduce or broadcast strategy)");
  }
  auto m = ReadManifest(path);
  if (!m.ok()) return m.status().WithContext(what);
  return m;
}

// The part file of each partition 0..n-1; kInvalidArgument unless the parts cover each exactly
// once.
Result<std::vector<std::string>> PartsByPartition(const std::string& input, const Manifest& m,
                                                  int side) {
  std::string what = std::string(SideName(side)) + " " + input;
  if (m.num_partitions < 1) return InvalidArgument(what + " has no partitions in its _MANIFEST");
  std::vector<std::string> paths(static_cast<size_t>(m.num_partitions));
  for (const auto& part : m.parts) {
    if (part.partition < 0 || part.partition >= m.num_partitions) {
      return InvalidArgument(what + ": _MANIFEST part " + part.name + " has partition " +
                             std::to_string(part.partition) + ", outside 0.." +
                             std::to_string(m.num_partitions - 1));
    }
    std::string& slot = paths[static_cast<size_t>(part.partition)];
    if (!slot.empty()) {
      return InvalidArgument(what + ": _MANIFEST lists partition " +
                             std::to_string(part.partition) + " twice (" + Basename(slot) + ", " +
                             part.name + ")");
    }
    if (part.name.empty()) return InvalidArgument(what + ": _MANIFEST part without a name");
    slot = JoinPath(input, part.name);
  }
  for (size_t p = 0; p < paths.size(); ++p) {
    if (paths[p].empty()) {
      return InvalidArgument(what + ": _MANIFEST has no part for partition " + std::to_string(p) +
                             " of " + std::to_string(m.num_partitions));
    }
  }
  return paths;
}

struct CoPartitionedInputs {
  Manifest manifest[2];
  std::vector<std::string> parts[2];  // by partition
};

Result<CoPartitionedInputs> ReadCoPartitioned(const std::string& left, const std::string& right,
                                              bool merge) {
  CoPartitionedInputs in;
  const std::string* input[2] = {&left, &right};
  for (int s = 0; s < 2; ++s) {
    ASSIGN_OR_RETURN(in.manifest[s], ReadInputManifest(*input[s], s));
    const Manifest& m = in.manifest[s];
    if (m.partitioner != "hash" && m.partitioner != "range") {
      return InvalidArgument(
          std::string(SideName(s)) + " " + *input[s] + " is partitioned by '" + m.partitioner +
          "': partitioned and merge joins need both inputs hash- or range-partitioned");
    }
  }
  const Manifest& l = in.manifest[0];
  const Manifest& r = in.manifest[1];
  if (l.partitioner != r.partitioner) {
    return InvalidArgument("inputs are partitioned differently: left " + left + " by " +
                           l.partitioner + ", right " + right + " by " + r.partitioner);
  }
  if (l.num_partitions != r.num_partitions) {
    return InvalidArgument("left " + left + " has " + std::to_string(l.num_partitions) +
                           " parts (" + l.partitioner + "), right " + right + " has " +
                           std::to_string(r.num_partitions) +
                           ": partitioned and merge joins need the same part count");
  }
  if (l.partitioner == "range" && l.split_points != r.split_points) {
    return InvalidArgument("inputs are range-partitioned at different split points: left " + left +
                           " and right " + right + " (" + std::to_string(l.num_partitions) +
                           " parts each)");
  }
  for (int s = 0; s < 2; ++s) {
    ASSIGN_OR_RETURN(in.parts[s], PartsByPartition(*input[s], in.manifest[s], s));
  }
  if (merge) {
    for (int s = 0; s < 2; ++s) {
      if (!in.manifest[s].sorted) {
        return InvalidArgument(
            std::string(SideName(s)) + " " + *input[s] +
            " is not sorted by key (its _MANIFEST says sorted = false): a merge join needs both "
            "inputs sorted; use the partitioned strategy");
      }
    }
  }
  return in;
}

// The job's plan, shared by its map tasks: task i joins streamed[i] with other[i].
struct PartitionPlan {
  JoinDef def;
  int streamed_side = 0;
  std::vector<std::string> streamed, other;  // part files by partition
};

// The base of both mappers: the plan, the task's parts, and emitting with left/right in place.
class CoPartitionedMapper : public Mapper {
 public:
  CoPartitionedMapper(std::shared_ptr<const PartitionPlan> plan, int partition)
      : plan_(std::move(plan)),
        partition_(partition),
        streamed_(plan_->streamed_side),
        other_(1 - plan_->streamed_side),
        keep_streamed_(KeepsUnmatched(plan_->def.type, streamed_)),
        keep_other_(KeepsUnmatched(plan_->def.type, other_)),
        streamed_rows_(plan_->def, streamed_) {
    CHECK(partition >= 0 && static_cast<size_t>(partition) < plan_->streamed.size())
        << "co-partitioned join: input index " << partition << " of " << plan_->streamed.size();
  }

 protected:
  // Task i must read part i: a mismatch would pair the wrong parts, so it fails the task.
  void CheckInput(TaskContext& ctx) const {
    if (ctx.input_path() != streamed_path()) {
      throw std::runtime_error("co-partitioned join: task for partition " +
                               std::to_string(partition_) + " reads " +
                               std::string(ctx.input_path()) + ", expected " + streamed_path());
    }
  }
  const std::string& streamed_path() const {
    return plan_->streamed[static_cast<size_t>(partition_)];
  }
  const std::string& other_path() const { return plan_->other[static_cast<size_t>(partition_)]; }

  // `streamed` / `other` may be null (the missing side of an outer join).
  void Emit(std::string_view key, const std::string_view* streamed, const std::string_view* other,
            TaskContext& ctx) const {
    if (streamed_ == 0) {
      plan_->def.emit(key, streamed, other, ctx);
    } else {
      plan_->def.emit(key, other, streamed, ctx);
    }
  }

  std::shared_ptr<const PartitionPlan> plan_;
  const int partition_;
  const int streamed_, other_;
  const bool keep_streamed_, keep_other_;
  JoinRowReader streamed_rows_;
};

// Partitioned hash join: part i of the other side in a hash table, probed by each streamed row.
class HashPartMapper final : public CoPartitionedMapper {
 public:
  using CoPartitionedMapper::CoPartitionedMapper;

  void Setup(TaskContext& ctx) override {
    CheckInput(ctx);
    uint64_t malformed = 0;
    auto table = JoinHashTable::Load(plan_->def, other_, {other_path()}, &malformed);
    if (malformed > 0) ctx.Increment(kMalformedRowsCounter, static_cast<int64_t>(malformed));
    if (!table.ok()) throw std::runtime_error(table.status().ToString());
    table_ = std::move(table).value();
    matched_.assign(table_->keys(), false);
  }

  void Map(std::string_view key, std::string_view value, TaskContext& ctx) override {
    std::string_view join_key, payload;
    if (!streamed_rows_.Extract(key, value, ctx, &join_key, &payload)) return;
    uint32_t key_id;
    int32_t r = table_->Find(join_key, &key_id);
    if (r < 0) {
      if (keep_streamed_) Emit(join_key, &payload, nullptr, ctx);
      return;
    }
    matched_[key_id] = true;
    for (; r >= 0;) {
      const JoinHashTable::Row& row = table_->row(r);
      std::string_view other = table_->payload(row);
      Emit(join_key, &payload, &other, ctx);
      r = row.next;
    }
  }

  void Finish(TaskContext& ctx) override {
    if (!keep_other_) return;
    for (size_t i = 0; i < table_->rows(); ++i) {
      const JoinHashTable::Row& row = table_->row(static_cast<int32_t>(i));
      if (matched_[row.key_id]) continue;
      std::string_view other = table_->payload(row);
      Emit(table_->key(row.key_id), nullptr, &other, ctx);
    }
  }

 private:
  std::unique_ptr<JoinHashTable> table_;
  std::vector<bool> matched_;  // by key id
};

// The task's context as the other side's row reader sees it: the other part's path and block,
// so that malformed rows are reported where they are; everything else is the task's.
class OtherSideContext final : public TaskContext {
 public:
  OtherSideContext(TaskContext& base, std::string path) : base_(base), path_(std::move(path)) {}
  void Emit(std::string_view key, std::string_view value) override { base_.Emit(key, value); }
  void Increment(std::string_view counter, int64_t delta) override {
    base_.Increment(counter, delta);
  }
  uint64_t seed() const override { return base_.seed(); }
  int task_index() const override { return base_.task_index(); }
  int num_reducers() const override { return base_.num_reducers(); }
  std::string_view input_path() const override { return path_; }
  uint64_t record_offset() const override { return block_; }
  int input_index() const override { return base_.input_index(); }
  std::string_view cache_dir() const override { return base_.cache_dir(); }
  std::string_view work_dir() const override { return base_.work_dir(); }
  void set_block(uint64_t b) { block_ = b; }

 private:
  TaskContext& base_;
  std::string path_;
  uint64_t block_ = 0;
};

// Sort-merge join: both parts sorted by the join key, read once each. The other side's rows of
// the current key (a run) are buffered and replayed for each streamed row of that key.
class MergePartMapper final : public CoPartitionedMapper {
 public:
  MergePartMapper(std::shared_ptr<const PartitionPlan> plan, int partition)
      : CoPartitionedMapper(std::move(plan), partition), other_rows_(plan_->def, other_) {}

  ~MergePartMapper() override {
    run_.reset();  // removes its spill file before the directory goes
    if (!spill_dir_.empty()) (void)RemoveAll(spill_dir_);
  }

  void Setup(TaskContext& ctx) override {
    CheckInput(ctx);
    auto reader = RecordFileReader::Open(other_path());
    if (!reader.ok()) throw std::runtime_error(reader.status().ToString());
    reader_ = std::move(reader).value();
    other_ctx_ = std::make_unique<OtherSideContext>(ctx, other_path());
    // The run's overflow goes to the attempt's scratch dir (removed with the attempt); a
    // runtime without one gets a private temp dir, removed by the destructor.
    std::string scratch(ctx.work_dir());
    if (scratch.empty()) {
      const char* tmp = std::getenv("TMPDIR");
      std::string tmpl = JoinPath(tmp && *tmp ? tmp : "/tmp", "sawmill-merge-join-XXXXXX");
      if (::mkdtemp(tmpl.data()) == nullptr) {
        throw std::runtime_error(ErrnoError("mkdtemp", tmpl, errno).ToString());
      }
      scratch = spill_dir_ = tmpl;
    }
    JoinBuffer::Options bo;
    bo.spill_path = JoinPath(scratch, "merge-join-run");
    bo.memory_bytes = kMergeRunMemoryBytes;
    run_ = std::make_unique<JoinBuffer>(bo);
    Advance();
  }

  void Map(std::string_view key, std::string_view value, TaskContext& ctx) override {
    std::string_view join_key, payload;
    if (!streamed_rows_.Extract(key, value, ctx, &join_key, &payload)) return;
    if (have_last_streamed_ && join_key < last_streamed_) {
      throw std::runtime_error(streamed_path() +
                               " is not sorted by the join key: " + Printable(join_key) +
                               " after " + Printable(last_streamed_) + " (merge join)");
    }
    last_streamed_.assign(join_key);
    have_last_streamed_ = true;
    if (!run_valid_ || join_key != run_key_) {
      run_valid_ = false;
      while (have_other_ && std::string_view(other_key_) < join_key) {
        EmitOtherUnmatched(ctx);
        Advance();
      }
      if (have_other_ && other_key_ == join_key) LoadRun();
    }
    if (!run_valid_) {
      if (keep_streamed_) Emit(join_key, &payload, nullptr, ctx);
      return;
    }
    Status s =
        run_->ForEach([&](std::string_view other) { Emit(join_key, &payload, &other, ctx); });
    if (!s.ok()) throw std::runtime_error(s.ToString());
  }

  // The rest of the other side: unmatched, and read to the end even when not kept, so that a
  // key out of order anywhere fails the task.
  void Finish(TaskContext& ctx) override {
    while (have_other_) {
      EmitOtherUnmatched(ctx);
      Advance();
    }
  }

 private:
  void EmitOtherUnmatched(TaskContext& ctx) {
    if (!keep_other_) return;
    std::string_view other = other_payload_;
    Emit(other_key_, nullptr, &other, ctx);
  }

  // Buffers the other side's rows of other_key_ (the current streamed key) as the run.
  void LoadRun() {
    run_->Clear();
    run_key_ = other_key_;
    while (have_other_ && other_key_ == run_key_) {
      Status s = run_->Add(other_payload_);
      if (!s.ok()) throw std::runtime_error(s.ToString());
      Advance();
    }
    run_valid_ = true;
  }

  // Moves to the other side's next well-formed row (have_other_ false at the end), checking
  // that its key does not go backwards.
  void Advance() {
    std::string_view key, value, join_key, payload;
    for (;;) {
      while (!iter_ || !iter_->Next()) {
        if (iter_ && !iter_->status().ok()) throw std::runtime_error(iter_->status().ToString());
        if (next_block_ >= reader_->blocks().size()) {
          have_other_ = false;
          return;
        }
        iter_.emplace(reader_.get(), next_block_, next_block_ + 1);
        other_ctx_->set_block(next_block_);
        ++next_block_;
      }
      if (other_rows_.Extract(iter_->key(), iter_->value(), *other_ctx_, &join_key, &payload))
        break;
    }
    if (have_other_key_ && join_key < std::string_view(other_key_)) {
      throw std::runtime_error(
          other_path() + " is not sorted by the join key: " + Printable(join_key) + " after " +
          Printable(other_key_) + " in block " + std::to_string(next_block_ - 1) + " (merge join)");
    }
    other_key_.assign(join_key);
    other_payload_.assign(payload);
    have_other_ = have_other_key_ = true;
  }

  JoinRowReader other_rows_;
  std::unique_ptr<OtherSideContext> other_ctx_;
  std::unique_ptr<RecordFileReader> reader_;
  std::optional<RecordIterator> iter_;  // over one block, so errors can name it
  size_t next_block_ = 0;
  bool have_other_ = false;      // other_key_/other_payload_ hold the current row
  bool have_other_key_ = false;  // some row was read (for the order check)
  std::string other_key_, other_payload_;
  std::string last_streamed_;
  bool have_last_streamed_ = false;
  std::string spill_dir_;  // made by Setup when the runtime gave no work dir
  std::unique_ptr<JoinBuffer> run_;
  std::string run_key_;
  bool run_valid_ = false;
};

}  // namespace

Status CheckCoPartitioned(const std::string& left, const std::string& right, bool merge) {
  return ReadCoPartitioned(left, right, merge).status();
}

Result<JobSpec> CoPartitionedJoin(const JoinDef& def, bool merge, int streamed_side) {
  if (streamed_side != 0 && streamed_side != 1) {
    return InvalidArgument("co-partitioned join: streamed side must be 0 or 1, not " +
                           std::to_string(streamed_side));
  }
  for (int s = 0; s < 2; ++s) {
    if (def.side[s].format != InputFormat::kRecordFile) {
      return InvalidArgument(
          std::string(SideName(s)) + " input " + def.side[s].input +
          ": partitioned and merge joins read Sawmill outputs, so its format must be record files");
    }
  }
  ASSIGN_OR_RETURN(CoPartitionedInputs in,
                   ReadCoPartitioned(def.side[0].input, def.side[1].input, merge));
  auto plan = std::make_shared<PartitionPlan>();
  plan->def = def;
  plan->streamed_side = streamed_side;
  plan->streamed = in.parts[streamed_side];
  plan->other = in.parts[1 - streamed_side];

  JobSpec spec;
  spec.name = def.name;
  spec.inputs = plan->streamed;
  spec.input_format = InputFormat::kRecordFile;
  spec.input_formats.assign(spec.inputs.size(), InputFormat::kRecordFile);
  spec.whole_file_splits = true;
  std::shared_ptr<const PartitionPlan> shared = std::move(plan);
  if (merge) {
    spec.mapper_for_input = [shared](int i) -> std::unique_ptr<Mapper> {
      return std::make_unique<MergePartMapper>(shared, i);
    };
  } else {
    spec.mapper_for_input = [shared](int i) -> std::unique_ptr<Mapper> {
      return std::make_unique<HashPartMapper>(shared, i);
    };
  }
  return spec;
}

}  // namespace sawmill
