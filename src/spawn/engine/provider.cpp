#include "engine/provider.hpp"

#include <chrono>
#include <thread>

#include "engine/claim.hpp"

namespace spawn::engine {

Expected<std::optional<std::string>> Provider::recover_launch(const LaunchRequest& request) {
  if (uses_claim(request.state_dir)) return abandon_launch(request.state_dir);
  return Unexpected("provider " + name() + " cannot tell whether the launch was carried out (no start claim in " +
                    request.state_dir.string() + ")");
}

std::vector<Expected<std::string>> Provider::launch_many(const std::vector<LaunchRequest>& requests) {
  std::vector<Expected<std::string>> handles;
  handles.reserve(requests.size());
  for (const auto& request : requests) handles.push_back(launch(request));
  return handles;
}

void Provider::wait_for_change(int timeout_ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(timeout_ms));
}

} // namespace spawn::engine
