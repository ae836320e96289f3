#include "providers/aws/aws_provider.hpp"

#include <chrono>
#include <map>
#include <mutex>
#include <pwd.h>
#include <random>
#include <set>
#include <thread>
#include <unistd.h>

#include "aws/ec2.hpp"
#include "aws/encoding.hpp"
#include "aws/presign.hpp"
#include "aws/s3.hpp"
#include "aws/services.hpp"
#include "aws/session.hpp"
#include "engine/store.hpp"
#include "providers/aws/ami.hpp"
#include "providers/aws/bootstrap.hpp"
#include "providers/aws/cohort.hpp"
#include "providers/aws/pools.hpp"
#include "providers/aws/watch.hpp"
#include "providers/aws/workdir.hpp"
#include "runtime/environment.hpp"
#include "runtime/task_dir.hpp"
#include "util/files.hpp"
#include "util/strings.hpp"

namespace spawn::providers::aws {

namespace {

namespace fs = std::filesystem;
using namespace spawn::aws;

constexpr const char* k_cohort_record = "aws-cohort";  // a multi-node task's groups and instances (key=value)
// A task with a container image also installs its runtime and pulls the image before the script starts.
constexpr std::int64_t k_container_setup_seconds = 900;
// How long an ended cohort's groups wait for its instances to terminate before they are left to `spawn aws cleanup`.
constexpr double k_ending_give_up_seconds = 600;
constexpr const char* k_files_record = "aws-workdir";  // the job's files to bring back (providers/aws/workdir.hpp)

std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string env_or(const char* name, std::string fallback = {}) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

std::string random_hex(std::size_t n) {
  static std::mt19937_64 engine{std::random_device{}()};
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  std::string out;
  while (out.size() < n) out += "0123456789abcdef"[engine() & 15];
  return out;
}

std::string task_name(const engine::LaunchRequest& r) { return r.state_dir.filename().string(); }

// The submitting environment as it may travel to an instance: no AWS settings or credentials, nothing that looks
// like a secret (the instance has its own role; --export=ALL must not ship the user's keys to S3).
runtime::Environment travelling_environment() {
  runtime::Environment out;
  for (const auto& [name, value] : runtime::current_environment()) {
    auto upper = util::to_upper(name);
    if (upper.starts_with("AWS_") || upper.find("SECRET") != std::string::npos || upper.find("TOKEN") != std::string::npos ||
        upper.find("PASSWORD") != std::string::npos || upper.find("CREDENTIAL") != std::string::npos)
      continue;
    out[name] = value;
  }
  return out;
}

std::string local_user() {
  if (const passwd* pw = ::getpwuid(::getuid())) return pw->pw_name;
  return std::to_string(::getuid());
}

std::string short_host() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0 || !buf[0]) return "localhost";
  std::string name(buf);
  return name.substr(0, name.find('.'));
}

class AwsProvider final : public engine::Provider {
public:
  explicit AwsProvider(AwsOptions options)
      : m_options(std::move(options)), m_cooldown(m_options.cooldown_seconds),
        m_launch_bucket(m_options.launch_burst, m_options.launch_rate) {}

  std::string name() const override { return "aws"; }

  std::uint64_t capacity(const Plan& plan) const override { return plan.max_concurrent.value_or(100000); }

  Expected<void> check(const Plan& plan) const override {
    if (plan.instance_types.empty())
      return Unexpected("no instance type fits job " + util::quote(plan.job_name) + " (set instance_types)");
    const_cast<AwsProvider*>(this)->adopt(plan);
    if (!m_options.bucket)
      return Unexpected("no S3 bucket for AWS jobs: set aws.bucket in the config or SPAWN_AWS_BUCKET");
    auto* self = const_cast<AwsProvider*>(this);
    if (auto r = self->ensure_session(plan); !r) return r;
    auto credentials = m_session->credentials();
    if (!credentials) return Unexpected("AWS credentials: " + credentials.error().to_string());
    return {};
  }

  Expected<std::string> launch(const engine::LaunchRequest& request) override {
    auto results = launch_many({request});
    return std::move(results.front());
  }

  std::vector<Expected<std::string>> launch_many(const std::vector<engine::LaunchRequest>& requests) override;
  engine::TaskStatus poll(const engine::LaunchRequest& request, const std::string& handle) override {
    auto status = poll_once(request, handle);
    if (status.state != TaskState::running) record_instance_end(request.state_dir, now_seconds());
    return status;
  }
  void cancel(const engine::LaunchRequest& request, const std::string& handle) override;
  Expected<std::optional<std::string>> recover_launch(const engine::LaunchRequest& request) override;
  void wait_for_change(int timeout_ms) override {
    advance_endings();
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(timeout_ms, 200)));
  }
  // The run is over: waits (up to k_ending_give_up_seconds) until every ended cohort's groups are deleted.
  void settle() override {
    const double until = steady_seconds() + k_ending_give_up_seconds;
    while (!m_endings.empty() && steady_seconds() < until) {
      advance_endings(true);
      if (!m_endings.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  }

private:
  struct Prepared {
    std::size_t position = 0;  // in the requests
    ManifestEntry entry;
  };
  struct Snapshot {
    std::int64_t at_ms = -1'000'000;
    std::set<std::string> markers;
    std::map<std::string, Instance> instances;
  };

  // Takes the config's aws.* values the plan carries over the environment's (once, before the first call).
  void adopt(const Plan& plan);
  Expected<void> ensure_session(const Plan& plan);
  // The config's AMI, else the default for the type (providers/aws/ami.hpp).
  Expected<std::string> image(const Plan& plan, const std::string& instance_type);
  std::vector<ZoneSubnet> zones();
  Expected<ManifestEntry> prepare(const engine::LaunchRequest& request, const std::vector<CohortNode>* cohort = nullptr);
  // A multi-node task (plan.nodes > 1): its instances all or none, in a placement group of its own (cohort.hpp).
  Expected<std::string> launch_cohort(const engine::LaunchRequest& request);
  engine::TaskStatus poll_cohort(const engine::LaunchRequest& request, const std::string& handle);
  // Terminates a cohort's instances and hands its placement and security groups to advance_endings, which
  // deletes them once the instances are gone (EC2 refuses before): nothing waits for the shutdown meanwhile.
  void end_cohort(const engine::LaunchRequest& request, const std::vector<std::string>& ids);
  // One look (at most once a second unless now) at the ended cohorts: deletes the groups of those whose instances
  // are all terminated; gives up on one after k_ending_give_up_seconds (its groups stay tagged for aws cleanup).
  void advance_endings(bool now = false);
  bool efa_supported(const std::string& instance_type);
  Transfer transfer(const engine::LaunchRequest& r) {
    return {*m_session, *m_s3, *m_options.bucket, m_options.prefix, job_prefix(r.task.job_id), url_validity(*r.plan),
            m_options.back_piece_bytes};
  }
  std::string job_prefix(std::uint64_t job_id) const { return m_options.prefix + "/jobs/" + std::to_string(job_id); }
  std::string marker_key(const engine::LaunchRequest& r) const {
    return job_prefix(r.task.job_id) + "/markers/" + task_name(r);
  }
  std::chrono::seconds url_validity(const Plan& plan) const {
    auto limit = plan.time_limit_seconds ? plan.time_limit_seconds : plan.ttl_seconds;
    if (!limit) return k_max_presign_validity;
    return std::chrono::seconds(*limit + m_options.backstop_grace_seconds + 3600);
  }
  engine::TaskStatus poll_once(const engine::LaunchRequest& request, const std::string& handle);
  void refresh(std::uint64_t job_id);
  void flush_terminations();
  std::optional<std::string> marker_text(const engine::LaunchRequest& r, bool from_snapshot);
  engine::TaskStatus finished(const engine::LaunchRequest& r, const std::string& text);

  AwsOptions m_options;
  bool m_adopted = false;
  Cooldown m_cooldown;
  LaunchBucket m_launch_bucket;  // the account's RunInstances allowance as estimated here
  // Waits until the launch bucket holds n instances (at most its capacity); how many may be asked for then.
  std::size_t pace_launch(std::size_t n) {
    if (auto wait = m_launch_bucket.wait_for(n, steady_seconds()); wait > 0)
      std::this_thread::sleep_for(std::chrono::duration<double>(wait));
    return m_launch_bucket.available(steady_seconds());
  }
  std::shared_ptr<Session> m_session;
  std::unique_ptr<Ec2Client> m_ec2;
  std::unique_ptr<S3Client> m_s3;
  std::unique_ptr<AmiResolver> m_amis;
  std::optional<std::vector<ZoneSubnet>> m_zones;
  std::optional<std::string> m_vpc;                    // the configured subnets' VPC (a cohort's security group)
  std::map<std::string, bool> m_efa;                   // instance type -> EFA supported (DescribeInstanceTypes)
  std::map<std::uint64_t, Snapshot> m_snapshots;  // by job
  std::vector<std::string> m_to_terminate;
  std::set<std::string> m_cancelled;
  struct Ending {  // an ended cohort whose groups wait for its instances to terminate
    std::vector<std::string> ids;
    std::string security_group, placement_group;
    double since = 0;       // steady seconds
    int delete_tries = 0;   // DeleteSecurityGroup refused (still in use a moment after termination)
  };
  std::vector<Ending> m_endings;
  double m_endings_looked = -1e9;  // steady seconds of advance_endings' last look
  std::map<std::string, std::vector<Instance>> m_by_token;  // recover_launch: DescribeInstances once per token
  std::map<std::uint64_t, JobFiles> m_job_files;            // uploaded once per job, at its first launch
};

void AwsProvider::adopt(const Plan& plan) {
  if (m_adopted) return;
  m_adopted = true;
  apply_plan_settings(m_options, plan);
  m_cooldown = Cooldown(m_options.cooldown_seconds);
}

Expected<void> AwsProvider::ensure_session(const Plan& plan) {
  adopt(plan);
  if (m_session) return {};
  SessionOptions options;
  options.profile = m_options.profile;
  options.region = plan.region;
  auto session = Session::create(std::move(options));
  if (!session) return Unexpected(session.error().to_string());
  m_session = *session;
  m_ec2 = std::make_unique<Ec2Client>(m_session);
  m_s3 = std::make_unique<S3Client>(m_session);
  return {};
}

Expected<std::string> AwsProvider::image(const Plan& plan, const std::string& instance_type) {
  if (plan.ami) return *plan.ami;
  if (!m_amis) m_amis = std::make_unique<AmiResolver>(m_session);
  return m_amis->resolve(instance_type, plan.instance_types);
}

std::vector<ZoneSubnet> AwsProvider::zones() {
  if (m_zones) return *m_zones;
  std::vector<Filter> filters;
  if (m_options.subnets.empty()) filters.push_back({"default-for-az", {"true"}});
  auto subnets = m_ec2->describe_subnets(m_options.subnets, filters);
  std::vector<ZoneSubnet> out;
  if (subnets) {
    for (const auto& s : *subnets) out.push_back({s.availability_zone, s.id});
    if (!m_options.subnets.empty() && !subnets->empty()) m_vpc = subnets->front().vpc_id;
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.zone < b.zone; });
  }
  m_zones = out;  // empty (no answer): EC2 chooses the zone
  return out;
}

Expected<ManifestEntry> AwsProvider::prepare(const engine::LaunchRequest& request, const std::vector<CohortNode>* cohort) {
  const Plan& plan = *request.plan;
  const std::string name = task_name(request);
  const std::string root(k_instance_root);
  const std::string remote_dir = root + "/" + name;

  // The task as it runs on the instance: its working directory is the instance's, its node the instance.
  Plan remote = plan;
  remote.work_dir = root + "/work";
  remote.submit_dir = remote.work_dir;
  runtime::TaskIdentity id;
  id.job_id = request.task.job_id;
  if (plan.array) id.array_index = request.task.index;
  id.task_job_id = request.task_job_id ? request.task_job_id : request.task.job_id;
  id.restart_count = request.restart_count;
  id.node_names = cohort ? node_names(*cohort) : std::vector<std::string>{"@SPAWN_NODE@"};
  id.submit_host = short_host();
  id.user = local_user();
  id.uid = ::getuid();
  id.gid = ::getgid();
  id.hostfile = remote_dir + "/" + std::string(runtime::k_hostfile);
  id.runtime_dir = remote_dir;
  auto env = runtime::task_environment(remote, id, travelling_environment());
  if (cohort)
    for (const auto& [key, value] : mpi_environment(remote_dir, id.hostfile)) env.emplace(key, value);
  auto spec = runtime::make_task_spec(remote, id);
  auto onto_instance = [&](std::string path) { return path.starts_with(root) ? path : root + "/abs" + path; };
  spec.stdio.output = onto_instance(spec.stdio.output);
  if (spec.stdio.error) spec.stdio.error = onto_instance(*spec.stdio.error);

  const fs::path stage = request.state_dir / "instance";
  std::error_code ec;
  fs::remove_all(stage, ec);
  if (auto w = runtime::write_task_dir(stage, spec, env); !w) return Unexpected(w.error());
  // The srun shim names its runtime by path: the instance's, not this staging directory's.
  auto srun = util::read_file(stage / "bin/srun");
  if (!srun) return Unexpected(srun.error());
  if (auto w = util::write_file_atomic(stage / "bin/srun", util::replace_all(*srun, stage.string(), remote_dir)); !w)
    return Unexpected(w.error());
  fs::permissions(stage / "bin/srun", fs::perms(0755), ec);  // rewritten: executable again
  if (cohort) {
    if (auto w = write_cohort_files(stage, request.state_dir / "ssh", *cohort, remote_dir, root); !w) return Unexpected(w.error());
  }
  // The job's files: uploaded at the job's first launch; each task fetches them and sends its changes back.
  auto files = m_job_files.find(request.task.job_id);
  if (files == m_job_files.end()) {
    auto uploaded = upload_job_files(transfer(request), plan, engine::data_home());
    if (!uploaded) return Unexpected(uploaded.error());
    files = m_job_files.emplace(request.task.job_id, *uploaded).first;
  }
  std::vector<std::string> remote_outputs = {spec.stdio.output};
  if (spec.stdio.error) remote_outputs.push_back(*spec.stdio.error);
  if (auto w = prepare_task_files(transfer(request), plan, files->second, name, stage, remote.work_dir, remote_outputs,
                                  request.state_dir / k_files_record);
      !w)
    return Unexpected(w.error());
  auto bundle = bundle_directory(stage);
  if (!bundle) return Unexpected(bundle.error());
  auto packed = gzip_bytes(*bundle);
  if (!packed) return Unexpected(packed.error());

  const std::string base = job_prefix(request.task.job_id) + "/tasks/" + name;
  const std::string& bucket = *m_options.bucket;
  if (auto put = m_s3->put_object(bucket, base + "/bundle.sh.gz", *packed); !put)
    return Unexpected("uploading the task bundle: " + put.error().to_string());

  // Where the results come back to: the same names the local provider would write.
  runtime::TaskIdentity local_id = id;
  local_id.node_names = {"ec2"};
  auto local_spec = runtime::make_task_spec(plan, local_id);
  std::vector<std::pair<std::string, std::string>> outputs;  // remote path, local path
  outputs.push_back({spec.stdio.output, local_spec.stdio.output});
  if (spec.stdio.error && local_spec.stdio.error && *spec.stdio.error != spec.stdio.output)
    outputs.push_back({*spec.stdio.error, *local_spec.stdio.error});

  auto validity = url_validity(plan);
  ManifestEntry entry;
  entry.task_name = name;
  auto sign = [&](const char* method, const std::string& key) -> Expected<std::string> {
    auto url = presign_s3(*m_session, method, bucket, key, validity);
    if (!url) return Unexpected(url.error().to_string());
    return *url;
  };
  auto bundle_url = sign("GET", base + "/bundle.sh.gz");
  auto marker_url = sign("PUT", marker_key(request));
  auto log_url = sign("PUT", base + "/runtime.log");
  if (!bundle_url || !marker_url || !log_url) return Unexpected("presigning URLs failed");
  entry.bundle_url = *bundle_url;
  entry.marker_url = *marker_url;
  entry.log_url = *log_url;
  std::string record;
  for (const auto& [remote_path, local_path] : outputs) {
    std::string rel = local_path.starts_with(plan.work_dir + "/") ? local_path.substr(plan.work_dir.size() + 1)
                                                                   : "abs" + local_path;
    std::string key = job_prefix(request.task.job_id) + "/output/" + rel;
    auto url = sign("PUT", key);
    if (!url) return Unexpected(url.error());
    entry.outputs.push_back({remote_path, *url});
    record += key + "\t" + local_path + "\n";
  }
  if (auto w = util::write_file_atomic(request.state_dir / k_task_record, record); !w) return Unexpected(w.error());
  return entry;
}

std::vector<Expected<std::string>> AwsProvider::launch_many(const std::vector<engine::LaunchRequest>& requests) {
  std::vector<Expected<std::string>> results(requests.size(), Unexpected(std::string("not launched")));
  if (requests.empty()) return results;
  const Plan& plan = *requests.front().plan;
  adopt(plan);
  const std::uint64_t job_id = requests.front().task.job_id;
  auto fail_all = [&](const std::string& why) {
    for (auto& r : results) r = Unexpected(why);
    return results;
  };
  if (!m_options.bucket) return fail_all("no S3 bucket (aws.bucket or SPAWN_AWS_BUCKET)");
  if (auto s = ensure_session(plan); !s) return fail_all(s.error());
  if (plan.nodes > 1) {
    for (std::size_t i = 0; i < requests.size(); ++i) results[i] = launch_cohort(requests[i]);
    return results;
  }

  std::vector<Prepared> remaining;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    auto entry = prepare(requests[i]);
    if (!entry) {
      results[i] = Unexpected(entry.error());
      continue;
    }
    remaining.push_back({i, std::move(*entry)});
  }

  const auto pools = rank_pools(plan.instance_types, zones(), plan.market, plan.spot_fallback_to_on_demand);
  std::vector<std::string> tried;  // "c5.large/us-east-1a/spot: InsufficientInstanceCapacity"
  // Packing (aws.tasks_per_instance = K): tasks k*K .. k*K+K-1 of a launch share launch index k and run one after
  // the other; the boot backstop covers all K, each task's start moves it to one task's worth.
  const std::size_t per_instance = std::max<std::size_t>(1, m_options.tasks_per_instance);
  std::optional<std::int64_t> backstop, task_backstop;
  if (auto limit = plan.time_limit_seconds ? plan.time_limit_seconds : plan.ttl_seconds) {
    const std::int64_t one = *limit + (plan.container ? k_container_setup_seconds : 0);
    const auto k = static_cast<std::int64_t>(std::min(per_instance, remaining.size()));
    backstop = (k * one + m_options.backstop_grace_seconds + 59) / 60;
    task_backstop = (one + m_options.backstop_grace_seconds + 59) / 60;
  }

  while (!remaining.empty()) {
    auto pool = m_cooldown.first_available(pools, now_seconds());
    if (!pool) {
      std::vector<std::string> names;
      for (const auto& p : pools) names.push_back(describe(p) + (m_cooldown.reason(p).empty() ? "" : " (" + m_cooldown.reason(p) + ")"));
      for (const auto& p : remaining)
        results[p.position] = Unexpected("no EC2 capacity: every pool failed recently: " + util::join(names, ", "));
      break;
    }
    // No more than the account's RunInstances bucket holds: beyond it EC2 throttles or cuts the grant short, which
    // would read as a lack of capacity. Once the bucket is drained, launches go at its refill rate.
    std::size_t take = std::min({remaining.size(), m_options.max_per_call * per_instance,
                                 std::max<std::size_t>(1, pace_launch(1)) * per_instance});
    const std::size_t instances = (take + per_instance - 1) / per_instance;
    std::vector<Prepared> batch(remaining.begin(), remaining.begin() + static_cast<std::ptrdiff_t>(take));
    std::vector<ManifestEntry> entries;
    std::vector<std::uint64_t> indices;
    for (std::size_t k = 0; k < batch.size(); ++k) {
      batch[k].entry.launch_index = static_cast<std::uint32_t>(k / per_instance);
      entries.push_back(batch[k].entry);
      indices.push_back(requests[batch[k].position].task.index);
    }
    const std::string token = "spawn-" + std::to_string(job_id) + "-" + random_hex(24);
    const std::string manifest_key = job_prefix(job_id) + "/batches/" + token + ".manifest";
    auto fail_batch = [&](const std::string& why) {
      for (const auto& p : batch) results[p.position] = Unexpected(why);
      remaining.erase(remaining.begin(), remaining.begin() + static_cast<std::ptrdiff_t>(take));
    };
    auto ami = image(plan, pool->instance_type);  // per type: a GPU type boots the DLAMI, a Graviton one arm64
    if (!ami) {
      fail_batch(ami.error());
      continue;
    }
    if (auto put = m_s3->put_object(*m_options.bucket, manifest_key, manifest_text(entries)); !put) {
      fail_batch("uploading the manifest: " + put.error().to_string());
      continue;
    }
    auto manifest_url = presign_s3(*m_session, "GET", *m_options.bucket, manifest_key, url_validity(plan));
    if (!manifest_url) {
      fail_batch("presigning the manifest: " + manifest_url.error().to_string());
      continue;
    }
    BootstrapSettings settings;
    settings.manifest_url = *manifest_url;
    settings.backstop_minutes = backstop;
    settings.task_backstop_minutes = task_backstop;
    settings.spot_poll_seconds = m_options.spot_poll_seconds;
    settings.log_sync_seconds = m_options.log_sync_seconds;
    auto user_data = gzip_bytes(bootstrap_script(settings));
    if (!user_data || user_data->size() > 16 * 1024) {
      fail_batch(user_data ? "user data over 16 KB" : user_data.error());
      continue;
    }

    // Recorded before the call: a supervisor that dies during RunInstances finds its instances by this token.
    const std::string tried_text = util::join(tried, "; ");
    for (std::size_t k = 0; k < batch.size(); ++k) {
      auto& r = requests[batch[k].position];
      std::string record = "client_token=" + token + "\nlaunch_index=" + std::to_string(k / per_instance) +
                           "\npool=" + describe(*pool) +
                           "\ntried=" + tried_text + "\n";
      (void)util::write_file_atomic(r.state_dir / k_launch_record, record);
    }

    RunInstancesRequest run;
    run.image_id = *ami;
    run.instance_type = pool->instance_type;
    run.min_count = 1;
    run.max_count = static_cast<int>(instances);
    run.user_data = *user_data;
    run.market = pool->market == Market::spot ? MarketType::spot : MarketType::on_demand;
    run.client_token = token;
    run.terminate_on_shutdown = true;
    run.imdsv2_required = true;
    run.availability_zone = pool->zone;
    run.subnet_id = pool->subnet;
    run.security_group_ids = m_options.security_groups;
    run.key_name = m_options.key_pair;
    run.iam_instance_profile = m_options.instance_profile;
    run.root_volume_gib = m_options.root_volume_gib;
    std::string task_list = util::compress_indices(indices);
    run.tags = {{"spawn:job", std::to_string(job_id)},
                {"spawn:task", task_list.size() > 250 ? task_list.substr(0, 247) + "..." : task_list},
                {"spawn:batch", token},
                {"spawn:managed", "true"},
                {"Name", util::quote(plan.job_name).size() > 2 ? "spawn-" + std::to_string(job_id) + "-" + plan.job_name
                                                                : "spawn-" + std::to_string(job_id)}};
    auto reservation = m_ec2->run_instances(run);
    if (!reservation) {
      const auto& e = reservation.error();
      if (e.is_capacity_error()) {
        m_cooldown.fail(*pool, now_seconds(), e.code);
        tried.push_back(describe(*pool) + ": " + e.code);
        continue;
      }
      fail_batch("RunInstances on " + describe(*pool) + ": " + e.to_string() +
                 (tried.empty() ? "" : " (before that: " + util::join(tried, "; ") + ")"));
      continue;
    }
    m_launch_bucket.take(reservation->instances.size(), steady_seconds());
    std::map<int, std::string> by_index;
    std::map<int, const Instance*> launched;
    for (const auto& inst : reservation->instances) {
      by_index[inst.launch_index] = inst.id;
      launched[inst.launch_index] = &inst;
    }
    std::size_t started = 0;
    std::vector<Prepared> unfilled;
    for (std::size_t k = 0; k < batch.size(); ++k) {
      auto it = by_index.find(static_cast<int>(k / per_instance));
      if (it == by_index.end()) {
        unfilled.push_back(batch[k]);
        continue;
      }
      results[batch[k].position] = it->second;
      ++started;
      // What spawn status and spawn cost show: the instance, its pool and since when it bills.
      const Instance& inst = *launched[static_cast<int>(k / per_instance)];
      auto since = parse_iso8601(inst.launch_time);
      record_instance_start(requests[batch[k].position].state_dir,
                            {inst.id, pool->instance_type, inst.availability_zone.empty() ? pool->zone.value_or("") : inst.availability_zone,
                             pool->market, since ? std::chrono::system_clock::to_time_t(*since) : now_seconds(), std::nullopt, 1,
                             k % per_instance != 0});
    }
    remaining.erase(remaining.begin(), remaining.begin() + static_cast<std::ptrdiff_t>(take));
    if (!unfilled.empty()) {
      // A partial fill: this pool has no more for now; the rest go to the next pool.
      std::string why = "partial fill (" + std::to_string(by_index.size()) + " of " + std::to_string(instances) + ")";
      m_cooldown.fail(*pool, now_seconds(), why);
      tried.push_back(describe(*pool) + ": " + why);
      remaining.insert(remaining.begin(), unfilled.begin(), unfilled.end());
    }
  }
  return results;
}

void AwsProvider::flush_terminations() {
  if (m_to_terminate.empty() || !m_ec2) return;
  auto ids = std::move(m_to_terminate);
  m_to_terminate.clear();
  auto r = m_ec2->terminate_instances(ids);
  if (!r) m_to_terminate = ids;  // tried again on the next poll
}

void AwsProvider::refresh(std::uint64_t job_id) {
  auto& snap = m_snapshots[job_id];
  if (now_ms() - snap.at_ms < 1000) return;
  snap.at_ms = now_ms();
  auto markers = m_s3->list_objects(*m_options.bucket, job_prefix(job_id) + "/markers/");
  if (markers) {
    for (const auto& o : *markers) snap.markers.insert(o.key);
  }
  DescribeInstancesRequest d;
  d.filters = {{"tag:spawn:job", {std::to_string(job_id)}}, {"tag:spawn:managed", {"true"}}};
  auto instances = m_ec2->describe_instances(d);
  if (instances) {
    for (const auto& i : *instances) snap.instances[i.id] = i;
  }
}

std::optional<std::string> AwsProvider::marker_text(const engine::LaunchRequest& r, bool from_snapshot) {
  auto key = marker_key(r);
  if (from_snapshot && !m_snapshots[r.task.job_id].markers.count(key)) return std::nullopt;
  auto body = m_s3->get_object(*m_options.bucket, key);
  if (!body) return std::nullopt;
  return *body;
}

engine::TaskStatus AwsProvider::finished(const engine::LaunchRequest& r, const std::string& text) {
  engine::TaskStatus status;
  auto marker = runtime::parse_exit_marker(text);
  if (!marker) {
    status.state = TaskState::failed;
    status.reason = "unreadable exit marker in S3: " + marker.error();
    return status;
  }
  // The output files come home to the names the job asked for, as if it had run here.
  if (auto record = util::read_file(r.state_dir / k_task_record)) {
    for (const auto& line : util::split(*record, '\n')) {
      auto tab = line.find('\t');
      if (tab == std::string::npos) continue;
      auto body = m_s3->get_object(*m_options.bucket, line.substr(0, tab));
      if (!body) continue;
      fs::path local = line.substr(tab + 1);
      std::error_code ec;
      fs::create_directories(local.parent_path(), ec);
      (void)util::write_file_atomic(local, *body);
    }
  }
  if (marker->start > 0) record_queued_start(r.state_dir, marker->start);
  std::vector<std::string> not_back;
  if (marker->state != TaskState::preempted) not_back = bring_back(*m_s3, *m_options.bucket, r.state_dir / k_files_record);
  status.state = marker->state;
  if (marker->state != TaskState::preempted) status.exit_code = marker->exit_code;
  status.reason = marker->reason;
  if (!not_back.empty()) status.reason += "; not brought back: " + util::join(not_back, "; ");
  auto launch = read_record(r.state_dir / k_launch_record);
  if (!launch["pool"].empty()) status.reason += "; on " + launch["pool"];
  if (!launch["tried"].empty()) status.reason += " after " + launch["tried"];
  return status;
}

engine::TaskStatus AwsProvider::poll_once(const engine::LaunchRequest& request, const std::string& handle) {
  engine::TaskStatus running;
  running.state = TaskState::running;
  if (request.plan) adopt(*request.plan);
  if (!m_session && request.plan && !ensure_session(*request.plan)) return running;
  flush_terminations();
  if (request.plan && request.plan->nodes > 1) return poll_cohort(request, handle);
  refresh(request.task.job_id);
  if (auto text = marker_text(request, true)) return finished(request, *text);
  auto& snap = m_snapshots[request.task.job_id];
  auto it = snap.instances.find(handle);
  if (it == snap.instances.end()) return running;
  auto state = it->second.state;
  if (state == InstanceState::pending || state == InstanceState::running) return running;
  // Gone without a marker in the last listing: the marker may have landed since.
  if (auto text = marker_text(request, false)) return finished(request, *text);
  engine::TaskStatus status;
  const auto& inst = it->second;
  if (m_cancelled.count(handle)) {
    status.state = TaskState::cancelled;
    status.reason = "cancelled (instance " + handle + " terminated)";
  } else if (inst.state_reason_code.find("Spot") != std::string::npos) {
    status.state = TaskState::preempted;
    status.reason = "spot instance " + handle + " reclaimed (" + inst.state_reason_code + ")";
  } else {
    status.state = TaskState::failed;  // no exit code: lost, re-queued when the job allows it
    // The state word would depend on when the listing was taken (shutting-down, then terminated): say what happened.
    status.reason = "instance " + handle + " ended without an exit status (" +
                    (inst.state_reason_message.empty() ? inst.state_reason_code : inst.state_reason_message) + ")";
  }
  return status;
}

void AwsProvider::cancel(const engine::LaunchRequest&, const std::string& handle) {
  for (const auto& id : util::split(handle, ',')) {  // a cohort's handle names all its instances
    if (!id.starts_with("i-")) continue;
    m_to_terminate.push_back(id);
    m_cancelled.insert(id);
  }
}

Expected<std::optional<std::string>> AwsProvider::recover_launch(const engine::LaunchRequest& request) {
  auto record = read_record(request.state_dir / k_launch_record);
  // No record: the crash came before the batch was written down, so RunInstances was never called for it.
  if (record["client_token"].empty()) return std::optional<std::string>();
  if (auto s = ensure_session(*request.plan); !s) return Unexpected(s.error());
  auto token = record["client_token"];
  if (request.plan->nodes > 1) {
    // A cohort runs only once its cohort object is written (after the instances are recorded here); without it its
    // instances wait for nothing: they are terminated and the task launched again.
    auto cohort = read_record(request.state_dir / k_cohort_record);
    if (!cohort["instances"].empty()) return std::optional<std::string>(cohort["instances"]);
    DescribeInstancesRequest d;
    d.filters = {{"client-token", {token}}};
    auto found = m_ec2->describe_instances(d);
    if (!found) return Unexpected("looking up cohort " + token + ": " + found.error().to_string());
    std::vector<std::string> ids;
    for (const auto& inst : *found) ids.push_back(inst.id);
    if (!ids.empty()) end_cohort(request, ids);
    return std::optional<std::string>();
  }
  if (!m_by_token.count(token)) {
    DescribeInstancesRequest d;
    d.filters = {{"client-token", {token}}};
    auto found = m_ec2->describe_instances(d);
    if (!found) return Unexpected("looking up batch " + token + ": " + found.error().to_string());
    m_by_token[token] = *found;
  }
  auto index = util::parse_int(record["launch_index"]);
  for (const auto& inst : m_by_token[token])
    if (index && inst.launch_index == *index) return std::optional<std::string>(inst.id);
  return std::optional<std::string>();
}

bool AwsProvider::efa_supported(const std::string& instance_type) {
  if (auto it = m_efa.find(instance_type); it != m_efa.end()) return it->second;
  auto info = m_ec2->describe_instance_types({instance_type});
  bool efa = info && !info->empty() && info->front().efa_supported;
  if (info) m_efa[instance_type] = efa;  // an unanswered question is asked again next time
  return efa;
}

Expected<std::string> AwsProvider::launch_cohort(const engine::LaunchRequest& request) {
  const Plan& plan = *request.plan;
  const int count = static_cast<int>(plan.nodes);
  const std::uint64_t job_id = request.task.job_id;
  const std::string name = task_name(request);
  const std::string& bucket = *m_options.bucket;
  const std::string group = cohort_group_name(job_id, name, random_hex(8));
  const std::vector<Tag> tags = {{"spawn:job", std::to_string(job_id)},
                                 {"spawn:task", std::to_string(request.task.index)},
                                 {"spawn:managed", "true"},
                                 {"Name", group}};
  const fs::path record_path = request.state_dir / k_cohort_record;
  // Recorded before each step, so poll, cancel and resume find what exists (and `spawn aws cleanup` by the tags).
  std::string record = "placement_group=" + group + "\n";
  if (auto w = util::write_file_atomic(record_path, record); !w) return Unexpected(w.error());
  if (auto r = m_ec2->create_placement_group(group, "cluster", tags); !r)
    return Unexpected("creating the placement group " + group + ": " + r.error().to_string());
  auto fail = [&](const std::string& why, const std::vector<std::string>& ids = {}) -> Expected<std::string> {
    end_cohort(request, ids);
    return Unexpected(why);
  };
  auto sg = m_ec2->create_security_group(group, "spawn job " + std::to_string(job_id) + " task " + name +
                                                    ": its nodes reach each other", m_vpc, tags);
  if (!sg) return fail("creating the security group " + group + ": " + sg.error().to_string());
  record += "security_group=" + *sg + "\n";
  if (auto w = util::write_file_atomic(record_path, record); !w) return fail(w.error());
  // Open to itself only: every protocol and port from members of the same group, nothing from elsewhere.
  if (auto r = m_ec2->authorize_security_group_ingress(*sg, {{"-1", -1, -1, {}, {*sg}}}); !r)
    return fail("opening " + *sg + " to itself: " + r.error().to_string());
  if (auto k = make_job_keys(request.state_dir / "ssh", "spawn-job-" + std::to_string(job_id)); !k) return fail(k.error());

  const std::string base = job_prefix(job_id) + "/tasks/" + name;
  const std::string manifest_key = base + "/manifest";
  const std::string cohort_key = base + "/cohort";
  auto manifest_url = presign_s3(*m_session, "GET", bucket, manifest_key, url_validity(plan));
  auto cohort_url = presign_s3(*m_session, "GET", bucket, cohort_key, url_validity(plan));
  auto done_url = presign_s3(*m_session, "GET", bucket, marker_key(request), url_validity(plan));
  if (!manifest_url || !cohort_url || !done_url) return fail("presigning the cohort's URLs failed");
  BootstrapSettings settings;
  settings.manifest_url = *manifest_url;
  settings.cohort_url = *cohort_url;
  if (auto limit = plan.time_limit_seconds ? plan.time_limit_seconds : plan.ttl_seconds)
    settings.backstop_minutes = (*limit + m_options.backstop_grace_seconds + 59) / 60;
  settings.spot_poll_seconds = m_options.spot_poll_seconds;
  settings.log_sync_seconds = m_options.log_sync_seconds;
  auto user_data = gzip_bytes(bootstrap_script(settings));
  if (!user_data) return fail(user_data.error());
  if (user_data->size() > 16 * 1024) return fail("user data over 16 KB");

  const auto pools = rank_pools(plan.instance_types, zones(), plan.market, plan.spot_fallback_to_on_demand);
  std::vector<std::string> tried;
  while (auto pool = m_cooldown.first_available(pools, now_seconds())) {
    const std::string token = "spawn-" + std::to_string(job_id) + "-" + random_hex(24);
    (void)util::write_file_atomic(request.state_dir / k_launch_record,
                                  "client_token=" + token + "\nlaunch_index=0\npool=" + describe(*pool) +
                                      "\ntried=" + util::join(tried, "; ") + "\n");
    auto ami = image(plan, pool->instance_type);
    if (!ami) return fail(ami.error());
    RunInstancesRequest run;
    run.image_id = *ami;
    run.instance_type = pool->instance_type;
    run.min_count = count;  // all or nothing
    run.max_count = count;
    run.user_data = *user_data;
    run.market = pool->market == Market::spot ? MarketType::spot : MarketType::on_demand;
    run.client_token = token;
    run.availability_zone = pool->zone;
    run.placement_group = group;
    run.subnet_id = pool->subnet;
    run.security_group_ids = {*sg};
    run.security_group_ids.insert(run.security_group_ids.end(), m_options.security_groups.begin(), m_options.security_groups.end());
    run.efa_interface = efa_supported(pool->instance_type);
    run.key_name = m_options.key_pair;
    run.iam_instance_profile = m_options.instance_profile;
    run.root_volume_gib = m_options.root_volume_gib;
    run.tags = tags;
    run.tags.back().value = util::quote(plan.job_name).size() > 2 ? "spawn-" + std::to_string(job_id) + "-" + plan.job_name
                                                                  : "spawn-" + std::to_string(job_id);
    run.tags.push_back({"spawn:batch", token});
    pace_launch(static_cast<std::size_t>(count));
    auto reservation = m_ec2->run_instances(run);
    if (reservation) m_launch_bucket.take(reservation->instances.size(), steady_seconds());
    if (!reservation) {
      const auto& e = reservation.error();
      if (!e.is_capacity_error())
        return fail("RunInstances of " + std::to_string(count) + " on " + describe(*pool) + ": " + e.to_string() +
                    (tried.empty() ? "" : " (before that: " + util::join(tried, "; ") + ")"));
      m_cooldown.fail(*pool, now_seconds(), e.code);
      tried.push_back(describe(*pool) + ": " + e.code);
      continue;
    }
    std::vector<std::string> ids;
    for (const auto& inst : reservation->instances) ids.push_back(inst.id);
    if (static_cast<int>(ids.size()) < count) {
      // Never run short: the ones that came are terminated and the cohort tried elsewhere.
      std::string why = "partial fill (" + std::to_string(ids.size()) + " of " + std::to_string(count) + ")";
      if (auto t = m_ec2->terminate_instances(ids); !t) m_to_terminate.insert(m_to_terminate.end(), ids.begin(), ids.end());
      m_cooldown.fail(*pool, now_seconds(), why);
      tried.push_back(describe(*pool) + ": " + why);
      continue;
    }
    auto nodes = cohort_nodes(reservation->instances);
    if (!nodes) return fail("cohort on " + describe(*pool) + ": " + nodes.error(), ids);
    std::string handle;
    for (const auto& n : *nodes) handle += (handle.empty() ? "" : ",") + n.instance_id;
    record += "instances=" + handle + "\n";
    if (auto w = util::write_file_atomic(record_path, record); !w) return fail(w.error(), ids);
    auto since = parse_iso8601(reservation->instances.front().launch_time);
    record_instance_start(request.state_dir, {handle, pool->instance_type, reservation->instances.front().availability_zone,
                                              pool->market, since ? std::chrono::system_clock::to_time_t(*since) : now_seconds(),
                                              std::nullopt, static_cast<std::uint32_t>(ids.size())});
    auto entry = prepare(request, &*nodes);
    if (!entry) return fail(entry.error(), ids);
    entry->launch_index = 0;
    if (auto put = m_s3->put_object(bucket, manifest_key, manifest_text({*entry})); !put)
      return fail("uploading the manifest: " + put.error().to_string(), ids);
    // Written last: the nodes wait for it, so everything it leads to is in place when they see it.
    if (auto put = m_s3->put_object(bucket, cohort_key, cohort_text(*nodes, *done_url)); !put)
      return fail("uploading the cohort: " + put.error().to_string(), ids);
    return handle;
  }
  std::vector<std::string> names;
  for (const auto& p : pools) names.push_back(describe(p) + (m_cooldown.reason(p).empty() ? "" : " (" + m_cooldown.reason(p) + ")"));
  return fail("no EC2 capacity for " + std::to_string(count) + " instances together: every pool failed recently: " +
              util::join(names, ", "));
}

void AwsProvider::end_cohort(const engine::LaunchRequest& request, const std::vector<std::string>& ids) {
  auto record = read_record(request.state_dir / k_cohort_record);
  if (!ids.empty())
    if (auto t = m_ec2->terminate_instances(ids); !t) m_to_terminate.insert(m_to_terminate.end(), ids.begin(), ids.end());
  // Ended from here on (poll does not end it twice); a crash before the groups go leaves them tagged for cleanup.
  (void)util::write_file_atomic(request.state_dir / k_cohort_record,
                                "instances=" + record["instances"] + "\nsecurity_group=" + record["security_group"] +
                                    "\nplacement_group=" + record["placement_group"] + "\nended=1\n");
  if (record["security_group"].empty() && record["placement_group"].empty()) return;
  m_endings.push_back({ids, record["security_group"], record["placement_group"], steady_seconds(), 0});
}

void AwsProvider::advance_endings(bool now) {
  if (m_endings.empty() || !m_ec2) return;
  const double t = steady_seconds();
  if (!now && t - m_endings_looked < 1.0) return;
  m_endings_looked = t;
  flush_terminations();
  std::vector<std::string> all;
  for (const auto& e : m_endings) all.insert(all.end(), e.ids.begin(), e.ids.end());
  std::map<std::string, InstanceState> states;
  if (!all.empty()) {
    DescribeInstancesRequest d;
    d.instance_ids = all;
    auto found = m_ec2->describe_instances(d);
    if (!found) return;  // asked again on the next look
    for (const auto& inst : *found) states[inst.id] = inst.state;
  }
  std::erase_if(m_endings, [&](Ending& e) {
    const bool gone = std::all_of(e.ids.begin(), e.ids.end(), [&](const std::string& id) {
      auto it = states.find(id);
      return it == states.end() || it->second == InstanceState::terminated;  // long gone instances are not listed
    });
    if (!gone) return t - e.since > k_ending_give_up_seconds;
    if (!e.security_group.empty()) {
      if (!m_ec2->delete_security_group(e.security_group)) {
        // A group is still "in use" for a moment after its last instance terminated.
        if (++e.delete_tries < 10 && t - e.since <= k_ending_give_up_seconds) return false;
      } else {
        e.security_group.clear();
      }
    }
    if (!e.placement_group.empty()) (void)m_ec2->delete_placement_group(e.placement_group);
    return true;
  });
}

engine::TaskStatus AwsProvider::poll_cohort(const engine::LaunchRequest& request, const std::string& handle) {
  engine::TaskStatus running;
  running.state = TaskState::running;
  const auto ids = util::split(handle, ',');
  refresh(request.task.job_id);
  auto end = [&](engine::TaskStatus status) {
    if (read_record(request.state_dir / k_cohort_record)["ended"].empty()) end_cohort(request, ids);
    return status;
  };
  if (auto text = marker_text(request, true)) return end(finished(request, *text));
  auto& snap = m_snapshots[request.task.job_id];
  for (std::size_t rank = 0; rank < ids.size(); ++rank) {
    auto it = snap.instances.find(ids[rank]);
    if (it == snap.instances.end()) continue;
    auto state = it->second.state;
    if (state == InstanceState::pending || state == InstanceState::running) continue;
    if (auto text = marker_text(request, false)) return end(finished(request, *text));
    engine::TaskStatus status;
    const auto& inst = it->second;
    if (m_cancelled.count(ids[rank])) {
      status.state = TaskState::cancelled;
      status.reason = "cancelled (instances " + handle + " terminated)";
    } else if (inst.state_reason_code.find("Spot") != std::string::npos) {
      status.state = TaskState::preempted;
      status.reason = "spot instance " + ids[rank] + " (node " + std::to_string(rank) + ") reclaimed (" + inst.state_reason_code + ")";
    } else {
      status.state = TaskState::failed;
      status.reason = "instance " + ids[rank] + " (node " + std::to_string(rank) + ") ended without an exit status (" +
                      (inst.state_reason_message.empty() ? inst.state_reason_code : inst.state_reason_message) + ")";
    }
    return end(status);
  }
  return running;
}

} // namespace

AwsOptions options_from_environment() {
  AwsOptions o;
  if (auto v = env_or("SPAWN_AWS_BUCKET"); !v.empty()) o.bucket = v;
  o.prefix = env_or("SPAWN_AWS_PREFIX", o.prefix);
  if (auto v = env_or("SPAWN_AWS_KEY_PAIR"); !v.empty()) o.key_pair = v;
  for (const auto& s : util::split(env_or("SPAWN_AWS_SUBNETS"), ','))
    if (!s.empty()) o.subnets.push_back(s);
  for (const auto& s : util::split(env_or("SPAWN_AWS_SECURITY_GROUPS"), ','))
    if (!s.empty()) o.security_groups.push_back(s);
  if (auto v = env_or("SPAWN_AWS_INSTANCE_PROFILE"); !v.empty()) o.instance_profile = v;
  if (auto v = util::parse_uint(env_or("SPAWN_AWS_ROOT_VOLUME_GIB"))) o.root_volume_gib = static_cast<int>(*v);
  if (auto v = util::parse_uint(env_or("SPAWN_AWS_TASKS_PER_INSTANCE")); v && *v >= 1) o.tasks_per_instance = *v;
  if (auto v = util::parse_uint(env_or("SPAWN_AWS_COOLDOWN_SECONDS"))) o.cooldown_seconds = static_cast<std::int64_t>(*v);
  if (auto v = util::parse_double(env_or("SPAWN_AWS_LAUNCH_BURST")); v && *v >= 1) o.launch_burst = *v;
  if (auto v = util::parse_double(env_or("SPAWN_AWS_LAUNCH_RATE")); v && *v > 0) o.launch_rate = *v;
  if (auto v = env_or("AWS_PROFILE"); !v.empty()) o.profile = v;
  if (auto v = util::parse_uint(env_or("SPAWN_AWS_LOG_SYNC_SECONDS")); v && *v > 0) o.log_sync_seconds = static_cast<int>(*v);
  if (auto v = util::parse_uint(env_or("SPAWN_AWS_BACK_PIECE_BYTES")); v && *v > 0 && *v <= k_max_back_piece_bytes)
    o.back_piece_bytes = *v;
  return o;
}

void apply_plan_settings(AwsOptions& options, const Plan& plan) {
  const auto& a = plan.aws;
  if (a.bucket) options.bucket = a.bucket;
  if (a.prefix) options.prefix = *a.prefix;
  if (a.key_pair) options.key_pair = a.key_pair;
  if (!a.subnets.empty()) options.subnets = a.subnets;
  if (!a.security_groups.empty()) options.security_groups = a.security_groups;
  if (a.instance_profile) options.instance_profile = a.instance_profile;
  if (a.root_volume_gib) options.root_volume_gib = static_cast<int>(*a.root_volume_gib);
  if (a.cooldown_seconds) options.cooldown_seconds = static_cast<std::int64_t>(*a.cooldown_seconds);
  if (a.tasks_per_instance) options.tasks_per_instance = static_cast<std::size_t>(*a.tasks_per_instance);
}

std::unique_ptr<engine::Provider> make_aws_provider(const AwsOptions& options) {
  return std::make_unique<AwsProvider>(options);
}

} // namespace spawn::providers::aws
