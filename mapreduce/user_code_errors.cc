#include "mapreduce/user_code_errors.h"

#include <cstdio>
#include <exception>
#include <stdexcept>

#include "mapreduce/task_context.h"

namespace sawmill {

std::string PrintableKey(std::string_view key) {
  std::string out;
  for (char ch : key.substr(0, 64)) {
    auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += ch;
    } else {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  if (key.size() > 64) out += "...";
  return out;
}

void RethrowNamingKey(std::string_view key) {
  try {
    throw;
  } catch (const RuntimeError&) {
    throw;
  } catch (const std::exception& e) {
    throw std::runtime_error("key '" + PrintableKey(key) + "': " + e.what());
  } catch (...) {
    throw std::runtime_error("key '" + PrintableKey(key) + "': unknown exception");
  }
}

}  // namespace sawmill
