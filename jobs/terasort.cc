// terasort: sorts 100-byte records (10-byte key, 90-byte value) in total order across parts,
// with a range partitioner sampled from the input.
#include "api/mapreduce.h"
#include "api/reducers.h"

namespace {

using namespace sawmill;

class IdentityMapper final : public Mapper {
 public:
  void Map(std::string_view key, std::string_view value, TaskContext& ctx) override { ctx.Emit(key, value); }
};

JobSpec MakeSpec() {
  JobSpec spec;
  spec.name = "terasort";
  spec.input_format = InputFormat::kFixedWidth;
  spec.fixed_record_bytes = 100;
  spec.fixed_key_bytes = 10;
  spec.mapper = [] { return std::make_unique<IdentityMapper>(); };
  spec.reducer = [] { return std::make_unique<IdentityReducer>(); };
  spec.total_order = true;
  return spec;
}

}  // namespace

SAWMILL_JOB_MAIN("terasort: sorts teragen's 100-byte records by their 10-byte keys, globally.", MakeSpec)
