#include "providers/aws/watch.hpp"

#include "aws/s3.hpp"
#include "aws/session.hpp"
#include "providers/aws/aws_provider.hpp"
#include "util/files.hpp"
#include "util/strings.hpp"

namespace spawn::providers::aws {

namespace fs = std::filesystem;
using namespace spawn::aws;

std::map<std::string, std::string> read_record(const fs::path& path) {
  std::map<std::string, std::string> out;
  auto text = util::read_file(path);
  if (!text) return out;
  for (const auto& line : util::split(*text, '\n')) {
    auto eq = line.find('=');
    if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return out;
}

void record_instance_start(const fs::path& dir, const AttemptInstance& instance) {
  (void)util::write_file_atomic(dir / k_instance_record,
                                "instance=" + instance.instance_id + "\ntype=" + instance.instance_type + "\nzone=" +
                                    instance.zone + "\nmarket=" + to_string(instance.market) +
                                    "\nlaunched=" + std::to_string(instance.launched) +
                                    "\nnodes=" + std::to_string(instance.nodes) + (instance.queued ? "\nqueued=1" : "") +
                                    "\n");
}

void record_queued_start(const fs::path& dir, std::int64_t when) {
  auto instance = read_attempt_instance(dir);
  if (!instance || !instance->queued || instance->ended) return;
  instance->launched = when;
  record_instance_start(dir, *instance);
}

void record_instance_end(const fs::path& dir, std::int64_t when) {
  auto text = util::read_file(dir / k_instance_record);
  if (!text || text->find("\nended=") != std::string::npos) return;
  (void)util::write_file_atomic(dir / k_instance_record, *text + "ended=" + std::to_string(when) + "\n");
}

std::optional<AttemptInstance> read_attempt_instance(const fs::path& dir) {
  auto r = read_record(dir / k_instance_record);
  if (r["instance"].empty()) return std::nullopt;
  AttemptInstance out;
  out.instance_id = r["instance"];
  out.instance_type = r["type"];
  out.zone = r["zone"];
  out.market = r["market"] == "on-demand" ? Market::on_demand : Market::spot;
  out.launched = util::parse_int(r["launched"]).value_or(0);
  out.queued = r["queued"] == "1";
  if (auto ended = util::parse_int(r["ended"])) out.ended = *ended;
  if (auto nodes = util::parse_uint(r["nodes"]); nodes && *nodes > 0) out.nodes = static_cast<std::uint32_t>(*nodes);
  return out;
}

std::string attempt_tried(const fs::path& dir) { return read_record(dir / k_launch_record)["tried"]; }

std::vector<OutputFile> attempt_outputs(const fs::path& dir) {
  std::vector<OutputFile> out;
  auto text = util::read_file(dir / k_task_record);
  if (!text) return out;
  for (const auto& line : util::split(*text, '\n')) {
    auto tab = line.find('\t');
    if (tab != std::string::npos) out.push_back({line.substr(0, tab), line.substr(tab + 1)});
  }
  return out;
}

Expected<JobWatch> JobWatch::open(const Plan& plan) {
  auto options = options_from_environment();
  apply_plan_settings(options, plan);
  JobWatch w;
  w.m_bucket = options.bucket.value_or("");
  SessionOptions so;
  so.profile = options.profile;
  so.region = plan.region;
  auto session = Session::create(std::move(so));
  if (!session) return Unexpected(session.error().to_string());
  w.m_session = *session;
  w.m_ec2 = std::make_unique<Ec2Client>(w.m_session);
  w.m_s3 = std::make_unique<S3Client>(w.m_session);
  return w;
}

JobWatch::JobWatch(JobWatch&&) noexcept = default;
JobWatch::~JobWatch() = default;

Expected<std::map<std::string, Instance>> JobWatch::instances(std::uint64_t job_id) {
  DescribeInstancesRequest d;
  d.filters = {{"tag:spawn:job", {std::to_string(job_id)}}, {"tag:spawn:managed", {"true"}}};
  auto found = m_ec2->describe_instances(d);
  if (!found) return Unexpected("DescribeInstances for job " + std::to_string(job_id) + ": " + found.error().to_string());
  std::map<std::string, Instance> out;
  for (auto& i : *found) out[i.id] = std::move(i);
  return out;
}

Expected<std::optional<std::string>> JobWatch::read_from(const OutputFile& file, std::uint64_t offset) {
  if (m_bucket.empty()) return Unexpected("no S3 bucket for AWS jobs: set aws.bucket in the config or SPAWN_AWS_BUCKET");
  auto bytes = m_s3->get_object_from(m_bucket, file.key, offset);
  if (!bytes) {
    if (bytes.error().code == "NoSuchKey") return std::optional<std::string>();
    return Unexpected("s3://" + m_bucket + "/" + file.key + ": " + bytes.error().to_string());
  }
  return std::optional<std::string>(std::move(*bytes));
}

} // namespace spawn::providers::aws
