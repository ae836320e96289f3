#pragma once
// The start claim: how a crash between "launching task 7" and "task 7 has handle H" is settled without running
// task 7 twice. The file `claim` in the attempt's state directory is created exactly once (O_EXCL), either by the
// task as its first act (it then writes its handle there and runs) or by a recovering engine (it writes
// "abandoned", and a task that comes later finds the file taken and exits without running). Whoever creates it
// first decides; the file system is the arbiter, so no timing assumption is involved.
#include <filesystem>
#include <optional>
#include <string>

#include "util/error.hpp"

namespace spawn::engine {

inline constexpr const char* k_claim_file = "claim";
inline constexpr const char* k_claim_abandoned = "abandoned";

// Task side: true when this attempt may run (the claim was free; handle is written into it), false when a
// recovering engine abandoned the attempt first. Call it before the task's script starts.
Expected<bool> claim_start(const std::filesystem::path& state_dir, const std::string& handle);
// Engine side: the handle the task wrote if it claimed first; nullopt when this call (or an earlier one)
// abandoned the attempt, which the task will then never run. Waits up to wait_ms for a claim still being written.
Expected<std::optional<std::string>> abandon_launch(const std::filesystem::path& state_dir, int wait_ms = 5000);
// Whether the provider's tasks take the claim: a file `uses-claim` the provider writes into the state directory
// before starting the task (so recover_launch's default knows the protocol applies).
bool uses_claim(const std::filesystem::path& state_dir);
// Marks state_dir as using the claim protocol (see uses_claim).
Expected<void> mark_uses_claim(const std::filesystem::path& state_dir);

} // namespace spawn::engine
