#pragma once
// Reading a member of recorded JSON that may be missing or of another type (an older or
// damaged record): one accessor for every reader, so none throws where another falls back.

#include <string>

#include <nlohmann/json.hpp>

namespace scalelab::detail {

/// The member `key` of `object`; a null value when `object` is no object or lacks the key.
inline const nlohmann::json& field(const nlohmann::json& object, const char* key) {
  static const nlohmann::json null_value;
  if (!object.is_object()) return null_value;
  const auto it = object.find(key);
  return it == object.end() ? null_value : *it;
}

/// The member `key` of `object` when it is a string, else `fallback`.
inline std::string field_string(const nlohmann::json& object, const char* key,
                                const std::string& fallback = "unknown") {
  const nlohmann::json& value = field(object, key);
  return value.is_string() ? value.get<std::string>() : fallback;
}

/// The member `key` of `object` when it is a number, else `fallback`.
inline double field_number(const nlohmann::json& object, const char* key, double fallback = 0) {
  const nlohmann::json& value = field(object, key);
  return value.is_number() ? value.get<double>() : fallback;
}

}  // namespace scalelab::detail
