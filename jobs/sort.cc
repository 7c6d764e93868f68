// sort: total-order sort of text lines (or of the records of record files) by key, through a
// range partitioner built from a sample, so the concatenated parts are sorted.
#include <gflags/gflags.h>

#include "api/mapreduce.h"
#include "api/reducers.h"

DEFINE_string(input_format, "text", "text (each line is a key) or records (record files from another job).");

namespace {

using namespace sawmill;

class LineMapper final : public Mapper {
 public:
  void Map(std::string_view key, std::string_view value, TaskContext& ctx) override {
    if (FLAGS_input_format == "text") {
      ctx.Emit(value, {});
    } else {
      ctx.Emit(key, value);
    }
  }
};

JobSpec MakeSpec() {
  if (FLAGS_input_format != "text" && FLAGS_input_format != "records") {
    throw UsageError("--input_format must be text or records");
  }
  JobSpec spec;
  spec.name = "sort";
  spec.input_format = FLAGS_input_format == "text" ? InputFormat::kTextLines : InputFormat::kRecordFile;
  spec.mapper = [] { return std::make_unique<LineMapper>(); };
  spec.reducer = [] { return std::make_unique<IdentityReducer>(); };
  spec.total_order = true;
  return spec;
}

}  // namespace

SAWMILL_JOB_MAIN("sort: sorts lines (keys) in total order across --reducers parts.", MakeSpec)
