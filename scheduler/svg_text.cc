// Text, colours and numbers for the coordinator's SVG pictures.
#include "scheduler/svg_text.h"

#include <cstdio>

namespace sawmill::sched {
namespace {

constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD
constexpr char kEllipsis[] = "\xE2\x80\xA6";     // U+2026

// The length of the valid UTF-8 sequence at s[i], or 0 when it is not one (overlong forms,
// surrogates and code points past U+10FFFF are not). Sets *cp to its code point.
size_t Utf8At(std::string_view s, size_t i, uint32_t* cp) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  size_t n;
  uint32_t v;
  if (c < 0x80) {
    *cp = c;
    return 1;
  } else if (c >= 0xC2 && c <= 0xDF) {
    n = 2, v = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3, v = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4, v = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xC0) != 0x80) return 0;
    v = v << 6 | (b(k) & 0x3F);
  }
  if ((n == 3 && v < 0x800) || (n == 4 && (v < 0x10000 || v > 0x10FFFF)) || (v >= 0xD800 && v <= 0xDFFF)) return 0;
  *cp = v;
  return n;
}

}  // namespace

std::string SvgText(std::string_view s, size_t max_chars) {
  if (max_chars == 0) max_chars = 1;
  // Characters first (so the cut never splits one), escapes after.
  std::string out;
  size_t chars = 0;
  for (size_t i = 0; i < s.size();) {
    if (chars + 1 == max_chars) {
      // Room for one more: the last character if it is the last, else the ellipsis.
      uint32_t cp;
      size_t n = Utf8At(s, i, &cp);
      if (n == 0 || i + n < s.size()) {
        out += kEllipsis;
        return out;
      }
    }
    uint32_t cp = 0;
    size_t n = Utf8At(s, i, &cp);
    if (n == 0) {
      out += kReplacement;
      i += 1;
    } else {
      if (cp == 0xFFFE || cp == 0xFFFF) {
        out += kReplacement;
      } else if ((cp < 0x20 && cp != '\t' && cp != '\n') || cp == 0x7F) {
        out += ' ';
      } else if (cp == '<') {
        out += "&lt;";
      } else if (cp == '>') {
        out += "&gt;";
      } else if (cp == '&') {
        out += "&amp;";
      } else if (cp == '"') {
        out += "&quot;";
      } else if (cp == '\'') {
        out += "&#39;";
      } else {
        out.append(s.substr(i, n));
      }
      i += n;
    }
    ++chars;
  }
  return out;
}

StateColors ColorsOfState(std::string_view state) {
  if (state == "running") return {"#dbeafe", "#2563eb"};
  if (state == "committing") return {"#fef3c7", "#b45309"};
  if (state == "waiting") return {"#f3f4f6", "#6b7280"};
  if (state == "succeeded") return {"#dcfce7", "#16a34a"};
  if (state == "failed") return {"#fee2e2", "#dc2626"};
  if (state == "killed") return {"#ffedd5", "#c2410c"};
  return {"#ffffff", "#9ca3af"};
}

std::string ShortDuration(int64_t ms) {
  if (ms < 0) ms = 0;
  char buf[40];
  if (ms < 1000) {
    std::snprintf(buf, sizeof buf, "%lld ms", static_cast<long long>(ms));
  } else if (ms < 60'000) {
    std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ms) / 1000);
  } else {
    std::snprintf(buf, sizeof buf, "%lldm %02llds", static_cast<long long>(ms / 60'000),
                  static_cast<long long>(ms / 1000 % 60));
  }
  return buf;
}

std::string ShortCount(uint64_t n) {
  if (n < 1000) return std::to_string(n);
  const char* units = "kMGTPE";
  double v = static_cast<double>(n);
  int u = -1;
  while (v >= 1000 && u < 5) {
    v /= 1000;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, v < 100 ? "%.1f%c" : "%.0f%c", v, units[u]);
  return buf;
}

}  // namespace sawmill::sched
