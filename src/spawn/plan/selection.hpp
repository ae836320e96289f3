#pragma once
// From a plan's resolved settings to instance types: the selection policy, and the ranked candidates
// (the configured instance_types in their order, else the catalog's cheapest fits).
#include <vector>

#include "catalog/catalog.hpp"
#include "catalog/select.hpp"
#include "config/settings.hpp"
#include "plan/plan.hpp"

namespace spawn::plan {

// The catalog selection policy the settings describe (region, market, architectures, families, aliases, ...).
catalog::SelectionPolicy selection_policy(const config::Settings& settings);

// Ranked candidates for one node of the plan. Configured instance_types are taken as given (each must exist,
// be offered in the region and be priced in the market; one too small for the job is an error naming what
// it lacks); otherwise the catalog's selection. Errors name the type, region and requirement.
Expected<std::vector<catalog::Candidate>> choose_instances(const Plan& plan, const catalog::Catalog& catalog);

} // namespace spawn::plan
