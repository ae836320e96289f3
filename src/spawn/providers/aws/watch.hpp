#pragma once
// The read side of the AWS provider, for the job commands (status, logs, cost, cancel) in any process: what each
// task attempt ran on (the provider's records in the attempt's state directory), the job's instances from one
// tag-filtered DescribeInstances, and a task's output read from its S3 copy while it runs (ranged GETs from an
// offset; the instance uploads it every log_sync_seconds). See docs/aws.md.
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aws/ec2.hpp"
#include "core/plan.hpp"
#include "util/error.hpp"

namespace spawn::aws {
class S3Client;
class Session;
} // namespace spawn::aws

namespace spawn::providers::aws {

// The provider's records in a task attempt's state directory (key=value lines, or tab-separated for outputs).
inline constexpr const char* k_launch_record = "aws-launch";      // client token, launch index, pool, tried: before RunInstances
inline constexpr const char* k_task_record = "aws-task";          // outputs to bring back: S3 key <TAB> local path
inline constexpr const char* k_instance_record = "aws-instance";  // the instance, its pool, launched, ended
// key=value lines of a record; empty when the file does not exist.
std::map<std::string, std::string> read_record(const std::filesystem::path& path);

// The instance one attempt of a task ran on, as the provider recorded it.
struct AttemptInstance {
  std::string instance_id;              // a multi-node task's: its instances, comma-separated (rank order)
  std::string instance_type;
  std::string zone;
  Market market = Market::spot;
  std::int64_t launched = 0;            // epoch seconds (EC2's launch time): billing starts
  std::optional<std::int64_t> ended;    // when the provider saw the task end (its instance powers off then)
  std::uint32_t nodes = 1;              // instances billed together (a multi-node task's)
  // One of several tasks on one instance (aws.tasks_per_instance), not its first: the instance's time is billed to
  // the task running on it, so this one's from its own start (launched, set when it ends) and with no minimum.
  bool queued = false;
};
// Written by the provider after RunInstances started the attempt whose state directory is dir.
void record_instance_start(const std::filesystem::path& dir, const AttemptInstance& instance);
// A queued task's start (its exit marker's), which its billing counts from.
void record_queued_start(const std::filesystem::path& dir, std::int64_t when);
// Adds the end time to that record, once (later calls keep the first time).
void record_instance_end(const std::filesystem::path& dir, std::int64_t when);
// The record of the attempt in dir; nullopt when no instance started for it.
std::optional<AttemptInstance> read_attempt_instance(const std::filesystem::path& dir);
// The pools tried before the attempt's (with why each failed), "" when the first one served it.
std::string attempt_tried(const std::filesystem::path& dir);

// A task attempt's output files: the S3 key the instance uploads to and the local file it is brought back to;
// stdout first, then stderr when the job writes it separately. Empty when the attempt was never prepared.
struct OutputFile {
  std::string key;
  std::filesystem::path local;
};
std::vector<OutputFile> attempt_outputs(const std::filesystem::path& dir);

// Talks to AWS for one job's plan: its region, bucket and prefix as the provider uses them.
class JobWatch {
public:
  static Expected<JobWatch> open(const Plan& plan);
  JobWatch(JobWatch&&) noexcept;
  ~JobWatch();
  // Every instance tagged spawn:job=job_id (and spawn:managed): one DescribeInstances, all pages; by id.
  Expected<std::map<std::string, spawn::aws::Instance>> instances(std::uint64_t job_id);
  // The bytes of an output file's S3 copy from offset on; empty when nothing new; nullopt while no copy exists.
  Expected<std::optional<std::string>> read_from(const OutputFile& file, std::uint64_t offset);

private:
  JobWatch() = default;
  std::string m_bucket;
  std::shared_ptr<spawn::aws::Session> m_session;
  std::unique_ptr<spawn::aws::Ec2Client> m_ec2;
  std::unique_ptr<spawn::aws::S3Client> m_s3;
};

} // namespace spawn::providers::aws
