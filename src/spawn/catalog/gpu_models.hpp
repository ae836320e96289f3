#pragma once
// GPU model names as Slurm sites write them ("a100_80gb", "tesla_v100", "v100-sxm2") mapped to AWS accelerators.
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/catalog.hpp"
#include "util/error.hpp"

namespace spawn::catalog {

// Site name -> AWS accelerator model (or another built-in name), from the user's mapping config.
using GpuAliases = std::map<std::string, std::string>;

// The comparison key of a model name: lower case, separators and packaging words (nvidia, tesla, sxm2, pcie, ...)
// dropped, memory written as "80gb": "Tesla_V100-SXM2-32G" -> "v10032gb", "A100-80GB" -> "a10080gb".
std::string gpu_model_key(std::string_view name);

// The AWS accelerator models that satisfy a request for site_name, best fit first: the user's aliases, then the
// built-in table, then the catalog's own model names. A model with no AWS equivalent is an error naming the nearest
// successor; an unknown name is an error listing the models AWS has.
Expected<std::vector<std::string>> resolve_gpu_model(std::string_view site_name, const GpuAliases& aliases,
                                                     const Catalog& catalog);

} // namespace spawn::catalog
