// Fuzz target: the reduce-side join's shuffle keys (join/join.h). Map outputs are our own
// bytes, but a reduce reads them from disk and the network: garbage must decode to an error,
// never a crash, and whatever decodes must be the one encoding of what it decodes to.
//
// Linked with mutation_driver.cc (g++ has no libFuzzer), which starts from FuzzSeeds().
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "join/join.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sawmill;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t group = JoinGroupPrefix(in);
  if (group > in.size()) std::abort();
  std::string_view raw;
  uint16_t salt;
  uint8_t tag;
  std::string scratch, scratch2;
  bool decoded = DecodeJoinKey(in, &raw, &salt, &tag, &scratch);
  if (JoinKeyRaw(in, &scratch2) != (decoded ? raw : in)) std::abort();  // the partitioner's fast path
  if (!decoded) return 0;
  std::string again;
  EncodeJoinKey(raw, salt, tag, &again);
  if (again != in || group != in.size() - 1) std::abort();
  return 0;
}

std::vector<std::string> FuzzSeeds() {
  std::vector<std::string> seeds;
  for (const std::string& raw : {std::string("user42"), std::string(), std::string("a\0b", 3), std::string("\xff\0", 2)}) {
    for (uint16_t salt : {0, 3}) {
      std::string e;
      sawmill::EncodeJoinKey(raw, salt, salt ? 1 : 0, &e);
      seeds.push_back(e);
    }
  }
  return seeds;
}
