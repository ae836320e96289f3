#pragma once
// The provider registry: one const table from name to factory; `spawn --version` lists it.
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "engine/provider.hpp"

namespace spawn::providers {

using ProviderFactory = std::function<std::unique_ptr<engine::Provider>()>;

struct ProviderEntry {
  std::string_view name;
  std::string_view summary;
  ProviderFactory factory;  // nullptr: known but not built yet
};

// Every provider spawn knows, in the order `spawn --version` lists them.
const std::vector<ProviderEntry>& registry();
// The provider called name; an unknown name, or one not built yet, is an error naming the known ones.
Expected<std::unique_ptr<engine::Provider>> make_provider(std::string_view name);

} // namespace spawn::providers
