#include "logs/log_formats.h"

#include <charconv>
#include <cstring>

namespace sawmill::logs {
namespace {

bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

bool ValidTime(int mo, int d, int h, int mi, int sec) {
  return mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h <= 23 && mi <= 59 && sec <= 60;
}

int64_t ToMs(int y, int mo, int d, int h, int mi, int sec, int ms, int offset_minutes) {
  return (((DaysFromCivil(y, mo, d) * 24 + h) * 60 + mi - offset_minutes) * 60 + sec) * 1000 + ms;
}

// "+hh:mm", "-hhmm" -> minutes east of UTC.
bool ParseOffset(std::string_view s, bool colon_optional, int* minutes) {
  if (s.empty() || (s[0] != '+' && s[0] != '-')) return false;
  int h, m;
  size_t mpos = 3;
  if (s.size() == 6 && s[3] == ':') {
    mpos = 4;
  } else if (!(colon_optional && s.size() == 5)) {
    return false;
  }
  if (!Digits(s, 1, 2, &h) || !Digits(s, mpos, 2, &m) || h > 23 || m > 59) return false;
  *minutes = (s[0] == '-' ? -1 : 1) * (h * 60 + m);
  return true;
}

// Reads a JSON value starting at *pos (whitespace skipped before it). Strings are unescaped into
// `text` when `keep` is set.
class JsonScanner {
 public:
  explicit JsonScanner(std::string_view s) : s_(s) {}
  void SkipSpace() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\r' || s_[pos_] == '\n')) ++pos_;
  }
  bool At(char c) {
    SkipSpace();
    return pos_ < s_.size() && s_[pos_] == c;
  }
  bool Eat(char c) {
    if (!At(c)) return false;
    ++pos_;
    return true;
  }
  bool AtEnd() {
    SkipSpace();
    return pos_ == s_.size();
  }
  bool String(std::string* out) {
    if (!Eat('"')) return false;
    if (out) out->clear();
    while (pos_ < s_.size()) {
      char c = s_[pos_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return false;
      if (c != '\\') {
        if (out) out->push_back(c);
        continue;
      }
      if (pos_ >= s_.size()) return false;
      char e = s_[pos_++];
      switch (e) {
        case '"': case '\\': case '/': if (out) out->push_back(e); break;
        case 'b': if (out) out->push_back('\b'); break;
        case 'f': if (out) out->push_back('\f'); break;
        case 'n': if (out) out->push_back('\n'); break;
        case 'r': if (out) out->push_back('\r'); break;
        case 't': if (out) out->push_back('\t'); break;
        case 'u': {
          uint32_t cp;
          if (!Hex4(&cp)) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t lo;
            if (pos_ + 2 > s_.size() || s_[pos_] != '\\' || s_[pos_ + 1] != 'u') return false;
            pos_ += 2;
            if (!Hex4(&lo) || lo < 0xDC00 || lo > 0xDFFF) return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return false;
          }
          if (out) AppendUtf8(cp, out);
          break;
        }
        default: return false;
      }
    }
    return false;
  }
  bool Number(std::string* out) {
    size_t start = pos_;
    if (pos_ < s_.size() && s_[pos_] == '-') ++pos_;
    size_t int_start = pos_;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
    if (pos_ == int_start || (s_[int_start] == '0' && pos_ - int_start > 1)) return false;
    if (pos_ < s_.size() && s_[pos_] == '.') {
      size_t f = ++pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
      if (pos_ == f) return false;
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      size_t e = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
      if (pos_ == e) return false;
    }
    if (out) out->assign(s_.substr(start, pos_ - start));
    return true;
  }
  // Any value; `field` (when not null) receives a string's or number's text and kind.
  bool Value(JsonField* field, int depth = 0) {
    if (depth > 64) return false;
    SkipSpace();
    if (pos_ >= s_.size()) return false;
    char c = s_[pos_];
    if (c == '"') {
      if (field) field->kind = JsonKind::kString;
      return String(field ? &field->text : nullptr);
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      if (field) field->kind = JsonKind::kNumber;
      return Number(field ? &field->text : nullptr);
    }
    if (field) {
      field->kind = JsonKind::kOther;
      field->text.clear();
    }
    if (c == '{' || c == '[') {
      const char close = c == '{' ? '}' : ']';
      ++pos_;
      if (Eat(close)) return true;
      while (true) {
        if (c == '{' && (!String(nullptr) || !Eat(':'))) return false;
        if (!Value(nullptr, depth + 1)) return false;
        if (Eat(close)) return true;
        if (!Eat(',')) return false;
      }
    }
    for (const char* word : {"true", "false", "null"}) {
      size_t n = std::strlen(word);
      if (s_.substr(pos_, n) == word) {
        pos_ += n;
        return true;
      }
    }
    return false;
  }

 private:
  bool Hex4(uint32_t* out) {
    if (pos_ + 4 > s_.size()) return false;
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      char h = s_[pos_++];
      v <<= 4;
      if (h >= '0' && h <= '9') v |= static_cast<uint32_t>(h - '0');
      else if (h >= 'a' && h <= 'f') v |= static_cast<uint32_t>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') v |= static_cast<uint32_t>(h - 'A' + 10);
      else return false;
    }
    *out = v;
    return true;
  }
  static void AppendUtf8(uint32_t cp, std::string* out) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  std::string_view s_;
  size_t pos_ = 0;
};

// The next space-separated token of `s` from *pos, or a "quoted" one (backslash escapes kept
// as they are, the quotes dropped). False at the end or on an unterminated quote.
bool Token(std::string_view s, size_t* pos, std::string_view* out) {
  while (*pos < s.size() && s[*pos] == ' ') ++*pos;
  if (*pos >= s.size()) return false;
  if (s[*pos] == '"') {
    size_t start = ++*pos;
    while (*pos < s.size() && s[*pos] != '"') *pos += s[*pos] == '\\' ? 2 : 1;
    if (*pos >= s.size()) return false;
    *out = s.substr(start, *pos - start);
    ++*pos;
    return true;
  }
  size_t start = *pos;
  while (*pos < s.size() && s[*pos] != ' ') ++*pos;
  *out = s.substr(start, *pos - start);
  return true;
}

}  // namespace

int64_t DaysFromCivil(int y, int m, int d) {
  y -= m <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const int yoe = y - era * 400;
  const int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return static_cast<int64_t>(era) * 146097 + doe - 719468;
}

const char* LineFormatName(LineFormat f) {
  switch (f) {
    case LineFormat::kLines: return "lines";
    case LineFormat::kCombined: return "combined";
    case LineFormat::kJsonl: return "jsonl";
    case LineFormat::kTsv: return "tsv";
  }
  return "?";
}

Result<LineFormat> ParseLineFormat(std::string_view name) {
  for (LineFormat f : {LineFormat::kLines, LineFormat::kCombined, LineFormat::kJsonl, LineFormat::kTsv}) {
    if (name == LineFormatName(f)) return f;
  }
  if (name == "common") return LineFormat::kCombined;
  return InvalidArgument("unknown log format '" + std::string(name) + "' (want lines, combined, jsonl or tsv)");
}

bool ParseAccessLogTime(std::string_view t, int64_t* ms) {
  // dd/Mon/yyyy:HH:MM:SS +zzzz
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  int d, y, h, mi, sec, offset;
  if (t.size() != 26 || t[2] != '/' || t[6] != '/' || t[11] != ':' || t[14] != ':' || t[17] != ':' || t[20] != ' ') {
    return false;
  }
  if (!Digits(t, 0, 2, &d) || !Digits(t, 7, 4, &y) || !Digits(t, 12, 2, &h) || !Digits(t, 15, 2, &mi) ||
      !Digits(t, 18, 2, &sec) || !ParseOffset(t.substr(21), true, &offset)) {
    return false;
  }
  int mo = 0;
  for (int i = 0; i < 12; ++i) {
    if (t.substr(3, 3) == kMonths[i]) mo = i + 1;
  }
  if (!ValidTime(mo, d, h, mi, sec)) return false;
  *ms = ToMs(y, mo, d, h, mi, sec, 0, offset);
  return true;
}

bool ParseRfc3339(std::string_view t, int64_t* ms) {
  int y, mo, d, h, mi, sec;
  if (t.size() < 20 || t[4] != '-' || t[7] != '-' || (t[10] != 'T' && t[10] != 't' && t[10] != ' ') ||
      t[13] != ':' || t[16] != ':') {
    return false;
  }
  if (!Digits(t, 0, 4, &y) || !Digits(t, 5, 2, &mo) || !Digits(t, 8, 2, &d) || !Digits(t, 11, 2, &h) ||
      !Digits(t, 14, 2, &mi) || !Digits(t, 17, 2, &sec) || !ValidTime(mo, d, h, mi, sec)) {
    return false;
  }
  size_t pos = 19;
  int frac = 0;
  if (pos < t.size() && t[pos] == '.') {
    size_t start = ++pos;
    while (pos < t.size() && t[pos] >= '0' && t[pos] <= '9') {
      if (pos - start < 3) frac = frac * 10 + (t[pos] - '0');
      ++pos;
    }
    if (pos == start) return false;
    for (size_t n = pos - start; n < 3; ++n) frac *= 10;
  }
  std::string_view zone = t.substr(pos);
  int offset = 0;
  if (zone != "Z" && zone != "z" && !ParseOffset(zone, false, &offset)) return false;
  *ms = ToMs(y, mo, d, h, mi, sec, frac, offset);
  return true;
}

bool AccessLogLineTime(std::string_view line, int64_t* ms, const char** why) {
  size_t open = line.find('[');
  size_t close = open == std::string_view::npos ? open : line.find(']', open);
  if (close == std::string_view::npos) {
    *why = "no [time] (want a common or combined log format line)";
    return false;
  }
  if (!ParseAccessLogTime(line.substr(open + 1, close - open - 1), ms)) {
    *why = "bad time (want [10/Oct/2000:13:55:36 -0700])";
    return false;
  }
  return true;
}

bool ParseAccessLogLine(std::string_view line, AccessLogLine* out, const char** why) {
  size_t pos = 0;
  std::string_view ident, time, request, status, bytes;
  if (!Token(line, &pos, &out->host) || !Token(line, &pos, &ident) || !Token(line, &pos, &out->user)) {
    *why = "too few fields";
    return false;
  }
  while (pos < line.size() && line[pos] == ' ') ++pos;
  size_t close = pos < line.size() && line[pos] == '[' ? line.find(']', pos) : std::string_view::npos;
  if (close == std::string_view::npos) {
    *why = "no [time] after the user";
    return false;
  }
  if (!ParseAccessLogTime(line.substr(pos + 1, close - pos - 1), &out->time_ms)) {
    *why = "bad time (want [10/Oct/2000:13:55:36 -0700])";
    return false;
  }
  pos = close + 1;
  while (pos < line.size() && line[pos] == ' ') ++pos;
  if (pos >= line.size() || line[pos] != '"' || !Token(line, &pos, &request) || !Token(line, &pos, &status) ||
      !Token(line, &pos, &bytes)) {
    *why = "no \"REQUEST\" STATUS BYTES after the time";
    return false;
  }
  auto st = std::from_chars(status.data(), status.data() + status.size(), out->status);
  if (st.ec != std::errc() || st.ptr != status.data() + status.size()) {
    *why = "bad status";
    return false;
  }
  size_t sp1 = request.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : request.find(' ', sp1 + 1);
  out->method = request.substr(0, sp1);
  out->path = sp1 == std::string_view::npos ? std::string_view() : request.substr(sp1 + 1, sp2 - sp1 - 1);
  out->protocol = sp2 == std::string_view::npos ? std::string_view() : request.substr(sp2 + 1);
  out->referer = out->agent = {};
  out->latency_ms = -1;
  std::string_view extra;
  if (Token(line, &pos, &out->referer) && Token(line, &pos, &out->agent) && Token(line, &pos, &extra)) {
    double seconds = 0;
    int64_t whole = 0;
    const char* end = extra.data() + extra.size();
    if (extra.find('.') != std::string_view::npos) {
      auto r = std::from_chars(extra.data(), end, seconds);
      if (r.ec == std::errc() && r.ptr == end && seconds >= 0) out->latency_ms = static_cast<int64_t>(seconds * 1000 + 0.5);
    } else {
      auto r = std::from_chars(extra.data(), end, whole);
      if (r.ec == std::errc() && r.ptr == end && whole >= 0) out->latency_ms = whole;
    }
  }
  return true;
}

bool FindJsonFields(std::string_view line, std::initializer_list<std::string_view> names, JsonField* out,
                    const char** why) {
  JsonScanner s(line);
  for (size_t i = 0; i < names.size(); ++i) out[i] = JsonField();
  if (!s.Eat('{')) {
    *why = "not a JSON object";
    return false;
  }
  if (!s.Eat('}')) {
    std::string key;
    JsonField value;
    while (true) {
      if (!s.String(&key) || !s.Eat(':') || !s.Value(&value)) {
        *why = "malformed JSON";
        return false;
      }
      size_t i = 0;
      for (std::string_view name : names) {
        if (key == name) out[i] = value;
        ++i;
      }
      if (s.Eat('}')) break;
      if (!s.Eat(',')) {
        *why = "malformed JSON";
        return false;
      }
    }
  }
  if (!s.AtEnd()) {
    *why = "text after the JSON object";
    return false;
  }
  return true;
}

bool FindJsonField(std::string_view line, std::string_view name, JsonField* out, const char** why) {
  return FindJsonFields(line, {name}, out, why);
}

bool JsonFieldTime(const JsonField& field, int64_t* ms, const char** why) {
  if (field.kind == JsonKind::kString) {
    if (ParseRfc3339(field.text, ms)) return true;
    *why = "time field is not RFC 3339 text (want 2026-12-06T14:03:00Z)";
    return false;
  }
  if (field.kind == JsonKind::kNumber) {
    const char* end = field.text.data() + field.text.size();
    auto r = std::from_chars(field.text.data(), end, *ms);
    if (r.ec == std::errc() && r.ptr == end) return true;
    *why = "time field is not an integer of epoch milliseconds";
    return false;
  }
  *why = field.kind == JsonKind::kMissing ? "no time field" : "time field is neither text nor a number";
  return false;
}

}  // namespace sawmill::logs
