#pragma once
// What an EC2 instance is given: the user data (a small bash bootstrap, gzip'd, well under EC2's 16 KB) that finds
// its task in the batch's manifest by its ami-launch-index, downloads the task bundle (the task directory the
// runtime/ code writes, as a self-extracting script), runs the SAME runtime.sh as the local provider, watches for
// spot interruption notices, uploads the output files, runtime log and exit marker through presigned URLs (curl
// only: no AWS CLI, no credentials on the instance), cancels its backstop and powers off.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "util/error.hpp"

namespace spawn::providers::aws {

// In the task files the client writes, this stands for the instance's own spawn directory (known only there:
// ${TMPDIR:-/var/tmp}/spawn); the bootstrap substitutes it before the runtime starts.
inline constexpr std::string_view k_instance_root = "@SPAWN_ROOT@";

struct BootstrapSettings {
  std::string manifest_url;                       // presigned GET of the batch's manifest
  std::optional<std::int64_t> backstop_minutes;   // `shutdown -h +N` at boot (all its tasks); nullopt: none
  std::optional<std::int64_t> task_backstop_minutes;  // again as each task's runtime starts (default: the above)
  int spot_poll_seconds = 5;                      // IMDS spot/instance-action
  int log_sync_seconds = 30;                      // output files uploaded while the task runs
  std::optional<std::string> cohort_url;          // presigned GET of a multi-node task's cohort object (cohort.hpp)
};

// The user data script (plain text; gzip it with gzip_bytes before sending).
std::string bootstrap_script(const BootstrapSettings& settings);

// One manifest line (tab-separated): what the instance of launch index `index` runs and where its results go.
struct ManifestEntry {
  std::uint32_t launch_index = 0;
  std::string task_name;       // "<index>.<attempt>": the task directory's name on the instance
  std::string bundle_url;      // GET: the task bundle
  std::string marker_url;      // PUT: the exit marker
  std::string log_url;         // PUT: runtime.log
  std::vector<std::pair<std::string, std::string>> outputs;  // instance path -> PUT url
};
std::string manifest_text(const std::vector<ManifestEntry>& entries);

// A bash script that recreates every file under dir (modes kept) in its working directory; only coreutils'
// base64 is needed to run it.
Expected<std::string> bundle_directory(const std::filesystem::path& dir);

// RFC 1952 gzip of bytes.
Expected<std::string> gzip_bytes(std::string_view bytes);

} // namespace spawn::providers::aws
