#pragma once
// Processes that outlive the spawn process that started them: started detached (double fork, setsid), identified
// by pid and start time so a reused pid is never mistaken for them.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "util/error.hpp"

namespace spawn::providers::local {

// A process as recorded in a handle: its pid and its start time (clock ticks since boot, /proc/PID/stat field 22).
struct ProcessId {
  int pid = 0;
  std::uint64_t start_time = 0;
};

// "PID:STARTTIME".
std::string format_handle(const ProcessId& process);
// The inverse of format_handle; an error names the handle.
Expected<ProcessId> parse_handle(const std::string& handle);

// Starts argv[0] (an absolute path) with exactly env, in cwd, as the leader of a new session and process group,
// reparented away from this process (so it survives it and never becomes its zombie); stdin is /dev/null, stdout
// and stderr append to log.
Expected<ProcessId> start_detached(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                                   const std::filesystem::path& cwd, const std::filesystem::path& log);

// True while the process runs (exists, same start time, not a zombie).
bool is_running(const ProcessId& process);
// The start time of pid now, nullopt if there is no such process.
std::optional<std::uint64_t> process_start_time(int pid);

} // namespace spawn::providers::local
