// The text view of records that `sawmill cat` prints and every oracle comparison uses.
#pragma once

#include <string>
#include <string_view>

namespace sawmill {

// Appends s with '\\' -> "\\\\", TAB -> "\\t", LF -> "\\n"; all other bytes as they are.
inline void AppendEscaped(std::string* out, std::string_view s) {
  for (char c : s) {
    switch (c) {
      case '\\': out->append("\\\\"); break;
      case '\t': out->append("\\t"); break;
      case '\n': out->append("\\n"); break;
      default: out->push_back(c);
    }
  }
}

}  // namespace sawmill
