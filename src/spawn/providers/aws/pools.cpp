#include "providers/aws/pools.hpp"

#include <algorithm>

namespace spawn::providers::aws {

std::string describe(const Pool& pool) {
  return pool.instance_type + "/" + pool.zone.value_or("any zone") + "/" +
         (pool.market == Market::spot ? "spot" : "on-demand");
}

std::vector<Pool> rank_pools(const std::vector<std::string>& instance_types, const std::vector<ZoneSubnet>& zones,
                             Market market, bool fallback_to_on_demand) {
  std::vector<Pool> out;
  auto add_market = [&](Market m) {
    for (const auto& type : instance_types) {
      if (zones.empty()) {
        out.push_back({type, std::nullopt, std::nullopt, m});
        continue;
      }
      for (const auto& z : zones) out.push_back({type, z.zone, z.subnet, m});
    }
  };
  add_market(market);
  if (market == Market::spot && fallback_to_on_demand) add_market(Market::on_demand);
  return out;
}

void Cooldown::fail(const Pool& pool, std::int64_t now, const std::string& reason) {
  m_failed[describe(pool)] = {now, reason};
}

bool Cooldown::cooling(const Pool& pool, std::int64_t now) const {
  auto it = m_failed.find(describe(pool));
  return it != m_failed.end() && now < it->second.first + m_seconds;
}

std::optional<Pool> Cooldown::first_available(const std::vector<Pool>& ranked, std::int64_t now) const {
  for (const auto& pool : ranked)
    if (!cooling(pool, now)) return pool;
  return std::nullopt;
}

std::string Cooldown::reason(const Pool& pool) const {
  auto it = m_failed.find(describe(pool));
  return it == m_failed.end() ? std::string() : it->second.second;
}

std::vector<std::size_t> batch_sizes(std::size_t n, std::size_t max_per_call) {
  std::vector<std::size_t> out;
  if (max_per_call == 0) max_per_call = 1;
  while (n > 0) {
    auto take = std::min(n, max_per_call);
    out.push_back(take);
    n -= take;
  }
  return out;
}

void LaunchBucket::refill(double now) {
  if (m_at >= 0 && now > m_at) m_tokens = std::min(m_capacity, m_tokens + (now - m_at) * m_refill);
  if (now > m_at) m_at = now;
}

std::size_t LaunchBucket::available(double now) {
  refill(now);
  return m_tokens < 1 ? 0 : static_cast<std::size_t>(m_tokens);
}

double LaunchBucket::wait_for(std::size_t n, double now) {
  refill(now);
  double want = std::min(static_cast<double>(n), m_capacity);
  return m_tokens >= want || m_refill <= 0 ? 0.0 : (want - m_tokens) / m_refill;
}

void LaunchBucket::take(std::size_t n, double now) {
  refill(now);
  m_tokens = std::max(0.0, m_tokens - static_cast<double>(n));
}

} // namespace spawn::providers::aws
