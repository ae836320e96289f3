#pragma once
// Where the AWS provider tries to start instances: pools (instance type, zone, market) in the plan's order, and the
// cool-down that keeps a pool which just failed for lack of capacity out of the way for a while (as AWS
// ParallelCluster does: 600 s). Pure logic, no AWS calls: tests/unit/test_aws_pools.cpp.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/resources.hpp"

namespace spawn::providers::aws {

struct Pool {
  std::string instance_type;
  std::optional<std::string> zone;    // nullopt: EC2 chooses
  std::optional<std::string> subnet;  // the zone's subnet, when known
  Market market = Market::spot;
  bool operator==(const Pool&) const = default;
};
// "c5.large/us-east-1a/spot".
std::string describe(const Pool& pool);

struct ZoneSubnet {
  std::string zone;
  std::optional<std::string> subnet;
};

// Every pool in the order they are tried: the plan's market first (each type in rank order, each zone in order),
// then, with fallback_to_on_demand and a spot plan, the same types and zones on demand.
std::vector<Pool> rank_pools(const std::vector<std::string>& instance_types, const std::vector<ZoneSubnet>& zones,
                             Market market, bool fallback_to_on_demand);

// Pools that failed recently, with why; a pool is skipped until its cool-down ends.
class Cooldown {
public:
  explicit Cooldown(std::int64_t seconds = 600) : m_seconds(seconds) {}
  // Records that pool failed at `now` (seconds) with `reason`.
  void fail(const Pool& pool, std::int64_t now, const std::string& reason);
  // Whether pool is cooling down at `now`.
  bool cooling(const Pool& pool, std::int64_t now) const;
  // The first pool of ranked that is not cooling down, or nullopt.
  std::optional<Pool> first_available(const std::vector<Pool>& ranked, std::int64_t now) const;
  // Why pool last failed (empty if it never did).
  std::string reason(const Pool& pool) const;

private:
  std::int64_t m_seconds;
  std::map<std::string, std::pair<std::int64_t, std::string>> m_failed;  // describe(pool) -> (time, reason)
};

// Splits n tasks into launch batches of at most max_per_call (EC2 takes up to 1,000 per call; fewer keeps a
// manifest small and a capacity error cheap).
std::vector<std::size_t> batch_sizes(std::size_t n, std::size_t max_per_call);

} // namespace spawn::providers::aws
