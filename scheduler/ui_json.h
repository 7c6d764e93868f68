// Lenient reads of the web UI's JSON documents (scheduler/web_ui.h): a missing or mistyped field
// reads as empty, so a page or picture renders whatever part of a document is there.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace sawmill::sched::uijson {

inline std::string Str(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return {};
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}
inline int64_t Int(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return 0;
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return 0;
  // A float or an unsigned past INT64_MAX would throw or wrap in get<int64_t>(); clamp instead.
  if (it->is_number_float()) {
    double d = it->get<double>();
    return d != d ? 0 : d >= 9.2e18 ? INT64_MAX : d <= -9.2e18 ? INT64_MIN : static_cast<int64_t>(d);
  }
  if (it->is_number_unsigned()) {
    uint64_t u = it->get<uint64_t>();
    return u > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(u);
  }
  return it->get<int64_t>();
}
inline bool Bool(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return false;
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}
inline const nlohmann::json& Array(const nlohmann::json& j, const char* key) {
  static const nlohmann::json kEmpty = nlohmann::json::array();
  if (!j.is_object()) return kEmpty;
  auto it = j.find(key);
  return it != j.end() && it->is_array() ? *it : kEmpty;
}

}  // namespace sawmill::sched::uijson
