// Selections per second against the full built-in catalog, and what loading that catalog costs.
// Not a test: prints numbers. Usage: bench_select [selections per run, default 20000] [runs, default 7]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "catalog/catalog.hpp"
#include "catalog/select.hpp"

using namespace spawn;
using namespace spawn::catalog;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

struct Request {
  NodeRequirements requirements;
  SelectionPolicy policy;
};

// A mix like real jobs: mostly CPU jobs of every size, a third with GPUs, a few with a model; half spot.
std::vector<Request> make_requests(const Catalog& catalog, std::size_t n) {
  std::mt19937_64 rng(42);
  const std::vector<std::string> models = {"a100", "t4", "a10g", "l4", "h100", "v100", "l40s"};
  const std::vector<std::uint32_t> vcpus = {1, 2, 4, 8, 16, 32, 48, 64, 96, 128};
  std::vector<Request> out(n);
  for (auto& r : out) {
    r.requirements.vcpus = vcpus[rng() % vcpus.size()];
    r.requirements.memory_mib = (rng() % 4) * r.requirements.vcpus * 2048;
    if (rng() % 3 == 0) {
      r.requirements.gpus = static_cast<std::uint32_t>(1 + rng() % 4);
      if (rng() % 2 == 0) r.requirements.gpu_model = models[rng() % models.size()];
    }
    r.policy.region = rng() % 2 ? "us-east-1" : catalog.regions()[rng() % catalog.regions().size()];
    r.policy.market = rng() % 2 ? Market::spot : Market::on_demand;
  }
  return out;
}

} // namespace

int main(int argc, char** argv) {
  const std::size_t per_run = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 20000;
  const int runs = argc > 2 ? std::atoi(argv[2]) : 7;
  if (per_run == 0 || runs <= 0) {
    std::fprintf(stderr, "usage: bench_select [selections per run] [runs]\n");
    return 2;
  }

  std::string_view text = builtin_catalog_text();
  std::vector<double> load_times;
  std::optional<Catalog> catalog;
  for (int i = 0; i < runs; ++i) {
    auto start = Clock::now();
    auto parsed = Catalog::parse(text, "built-in");
    load_times.push_back(seconds_since(start));
    if (!parsed) {
      std::fprintf(stderr, "bench_select: %s\n", parsed.error().c_str());
      return 1;
    }
    catalog = std::move(*parsed);
  }
  std::size_t offers = 0;
  for (std::size_t r = 0; r < catalog->regions().size(); ++r) offers += catalog->offers(r).size();
  const double load_ms = median(load_times) * 1e3;
  std::printf("catalog: %zu bytes, %zu types, %zu regions, %zu type-region offers, snapshot %s\n", text.size(),
              catalog->types().size(), catalog->regions().size(), offers, catalog->snapshot_date().c_str());
  std::printf("load (parse built-in): median %.2f ms over %d runs (min %.2f, max %.2f)\n", load_ms, runs,
              *std::min_element(load_times.begin(), load_times.end()) * 1e3,
              *std::max_element(load_times.begin(), load_times.end()) * 1e3);

  auto requests = make_requests(*catalog, per_run);
  std::vector<double> rates;
  std::size_t feasible = 0;
  for (int i = 0; i < runs; ++i) {
    feasible = 0;
    auto start = Clock::now();
    for (const auto& r : requests) {
      auto chosen = select_instances(*catalog, r.requirements, r.policy);
      feasible += chosen.has_value();
    }
    rates.push_back(static_cast<double>(per_run) / seconds_since(start));
  }
  const double rate = median(rates);
  std::printf("select_instances: median %.0f selections/s over %d runs of %zu (%.1f us each; %zu of %zu feasible)\n",
              rate, runs, per_run, 1e6 / rate, feasible, per_run);
  std::printf("one load costs as much as %.0f selections\n", load_ms * 1e-3 * rate);
  return 0;
}
