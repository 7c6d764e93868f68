// Fuzz target: df::Codec decoding (api/dataflow_codec.h). Dataflow tasks decode the records of
// stored datasets and shuffles, bytes read from disk and the network: garbage must decode to
// false, never a crash, and whatever decodes must re-encode to exactly the bytes it consumed.
//
// Linked with mutation_driver.cc (g++ has no libFuzzer), which starts from FuzzSeeds().
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "api/dataflow_codec.h"

namespace {

template <class T>
void Check(std::string_view in, bool last) {
  std::string_view rest = in;
  T v{};
  if (!sawmill::df::Codec<T>::Decode(&rest, &v, last)) return;
  if (rest.size() > in.size()) std::abort();
  std::string again;
  sawmill::df::Codec<T>::Encode(v, &again, last);
  if (std::string_view(again) != in.substr(0, in.size() - rest.size())) std::abort();
}

template <class T>
void Both(std::string_view in) {
  Check<T>(in, true);
  Check<T>(in, false);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  Both<int64_t>(in);
  Both<std::string>(in);
  Both<std::pair<std::string, int64_t>>(in);
  Both<std::tuple<std::string, std::string, double>>(in);
  Both<std::vector<std::string>>(in);
  Both<std::vector<uint64_t>>(in);
  Both<std::optional<std::pair<uint32_t, std::string>>>(in);
  Both<std::pair<std::vector<uint64_t>, double>>(in);
  return 0;
}

std::vector<std::string> FuzzSeeds() {
  using sawmill::df::EncodeToString;
  return {EncodeToString(std::pair<std::string, int64_t>("key\0x", -5)),
          EncodeToString(std::vector<std::string>{"a", std::string("\0\xff", 2), ""}),
          EncodeToString(std::tuple<std::string, std::string, double>("x", "y", 2.5)),
          EncodeToString(std::pair<std::vector<uint64_t>, double>({1, 2, 3}, 0.25))};
}
