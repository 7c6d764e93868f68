// How the runtime names the key in the errors of user code it calls per key: reducers (at key
// '...'), and combiners, which it calls while folding values in the aggregators and merges.
#pragma once

#include <string>
#include <string_view>

namespace sawmill {

// The key for an error message: printable ASCII as is, other bytes (and '\') as \xNN, cut
// after 64 bytes with "...".
std::string PrintableKey(std::string_view key);

// Inside a catch block around a combiner call: rethrows the exception being handled as a
// std::runtime_error whose message starts with "key 'KEY': " (a RuntimeError, the runtime's own
// failure under Emit, is rethrown as it is). The map task's CallUserCode then fails the task.
[[noreturn]] void RethrowNamingKey(std::string_view key);

}  // namespace sawmill
