#pragma once
// JSON helpers shared by the documents spawn prints and reads (inspect --json, parameter files, status --json).
#include <optional>

#include <nlohmann/json.hpp>

namespace spawn::util {

// An optional value as JSON: the value, or null when absent (spawn's documents keep every key, null when unset).
template <typename T> nlohmann::ordered_json json_or_null(const std::optional<T>& value) {
  return value ? nlohmann::ordered_json(*value) : nlohmann::ordered_json(nullptr);
}

} // namespace spawn::util
