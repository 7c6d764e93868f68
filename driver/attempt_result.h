// Writing an attempt's AttemptResult (mapreduce/attempt.capnp), shared by task attempts and
// program masters: the worker reads the file once the process (or executor) answers.
#pragma once

#include <cstdint>
#include <string>

#include <capnp/message.h>

#include "common/status.h"
#include "mapreduce/attempt.capnp.h"

namespace sawmill {

template <class Map>
void SetResultCounters(proto::AttemptResult::Builder r, const Map& counters) {
  auto list = r.initCounters(static_cast<unsigned>(counters.size()));
  unsigned i = 0;
  for (const auto& [name, value] : counters) {
    list[i].setName(name);
    list[i].setValue(value);
    ++i;
  }
}

// Written whole then renamed: the worker never reads half a result.
Status WriteResultFile(const std::string& path, capnp::MallocMessageBuilder& message);

}  // namespace sawmill
