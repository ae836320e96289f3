#pragma once
// The AWS provider: runs each task on its own EC2 instance. Identical tasks are launched together (one
// RunInstances per batch, MinCount=1/MaxCount=N, each instance finding its task in the batch's manifest by its
// ami-launch-index), on the plan's ranked instance types and zones with a cool-down for pools that just ran out of
// capacity; the instance runs the same runtime.sh as the local provider (providers/aws/bootstrap.hpp) and reports
// through S3. See docs/aws.md.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/provider.hpp"

namespace spawn::providers::aws {

struct AwsOptions {
  std::optional<std::string> bucket;             // where task bundles, manifests, logs and markers live
  std::string prefix = "spawn";                  // key prefix inside the bucket
  std::optional<std::string> key_pair;
  std::vector<std::string> subnets;              // empty: the default subnet of each zone
  std::vector<std::string> security_groups;
  std::optional<std::string> instance_profile;   // IAM instance profile name
  std::optional<int> root_volume_gib;
  std::optional<std::string> profile;            // AWS profile (credentials)
  std::int64_t cooldown_seconds = 600;           // a pool that ran out of capacity is left alone this long
  std::size_t max_per_call = 500;                // instances per RunInstances
  double launch_burst = 1000;                    // the account's RunInstances resource bucket (AWS's default)...
  double launch_rate = 2;                        // ...and its refill per second (raised limits: set both)
  int spot_poll_seconds = 5;
  int log_sync_seconds = 30;                     // output files uploaded while the task runs (spawn logs --follow)
  std::int64_t backstop_grace_seconds = 600;     // limit + this = `shutdown -h +N` (boot, kill wait, uploads)
  std::uint64_t back_piece_bytes = 4ull << 30;   // what a task sends back goes up in pieces of this size
  std::size_t tasks_per_instance = 1;            // tasks of one launch an instance runs one after the other
};

// The options from the environment (a job's plan carries the config's aws.* keys, which take their place):
// SPAWN_AWS_BUCKET, SPAWN_AWS_PREFIX, SPAWN_AWS_KEY_PAIR, SPAWN_AWS_SUBNETS
// (comma-separated), SPAWN_AWS_SECURITY_GROUPS, SPAWN_AWS_INSTANCE_PROFILE, SPAWN_AWS_ROOT_VOLUME_GIB,
// SPAWN_AWS_COOLDOWN_SECONDS, SPAWN_AWS_LOG_SYNC_SECONDS, SPAWN_AWS_LAUNCH_BURST, SPAWN_AWS_LAUNCH_RATE,
// SPAWN_AWS_BACK_PIECE_BYTES (1 byte to 5 GiB), SPAWN_AWS_TASKS_PER_INSTANCE, AWS_PROFILE.
AwsOptions options_from_environment();
// Puts the config's aws.* values the plan carries over options (a value the config did not set stays).
void apply_plan_settings(AwsOptions& options, const Plan& plan);

std::unique_ptr<engine::Provider> make_aws_provider(const AwsOptions& options = options_from_environment());

} // namespace spawn::providers::aws
