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

// The account's RunInstances resource bucket as seen from here (AWS: 1,000 instances, refilling 2 per second,
// per account and region). Asking EC2 for more instances than the bucket holds only earns RequestLimitExceeded or
// a grant cut short, which would look like a lack of capacity; so the provider asks for at most what this estimate
// holds and waits for refills beyond it. Times in seconds (fractional).
class LaunchBucket {
public:
  LaunchBucket(double capacity = 1000, double refill_per_second = 2) : m_capacity(capacity), m_refill(refill_per_second), m_tokens(capacity) {}
  // Whole instances that may be asked for at `now`.
  std::size_t available(double now);
  // Seconds from `now` until `n` (at most the capacity) are available.
  double wait_for(std::size_t n, double now);
  // Records that n instances were launched at `now`.
  void take(std::size_t n, double now);

private:
  void refill(double now);
  double m_capacity, m_refill, m_tokens;
  double m_at = -1;
};

// Splits n tasks into launch batches of at most max_per_call (EC2 takes up to 1,000 per call; fewer keeps a
// manifest small and a capacity error cheap).
std::vector<std::size_t> batch_sizes(std::size_t n, std::size_t max_per_call);

} // namespace spawn::providers::aws
