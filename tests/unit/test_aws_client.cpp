// The AWS client against the local endpoint (tests/aws_endpoint/endpoint.py, started per test on a free loopback
// port with signature verification on): credentials chain, endpoint overrides, retries, ClientToken idempotency,
// S3, pagination, and that no secret ever shows up in an error or a log line.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>
#include <unistd.h>
#include <sys/wait.h>

#include <nlohmann/json.hpp>

#include "aws/ec2.hpp"
#include "aws/encoding.hpp"
#include "aws/s3.hpp"
#include "aws/services.hpp"
#include "util/files.hpp"

using namespace spawn::aws;
namespace fs = std::filesystem;

namespace {

constexpr const char* k_key = "AKIDSPAWNTEST0001";
constexpr const char* k_secret = "SpawnSecretValue/NeverPrintMe+0123456789";

class LocalEndpoint {
public:
  explicit LocalEndpoint(nlohmann::json config = nlohmann::json::object()) {
    m_dir = fs::temp_directory_path() / ("spawn-aws-test-" + std::to_string(::getpid()) + "-" + std::to_string(s_counter++));
    fs::remove_all(m_dir);
    fs::create_directories(m_dir);
    if (!config.contains("credentials")) config["credentials"] = {{k_key, k_secret}};
    if (!config.contains("pending_seconds")) config["pending_seconds"] = 0.05;
    std::string script = std::string(SPAWN_TEST_DATA) + "/../aws_endpoint/endpoint.py";
    std::string port_file = (m_dir / "port").string(), state = (m_dir / "state").string(), json = config.dump();
    m_pid = ::fork();
    if (m_pid == 0) {
      ::execlp("python3", "python3", script.c_str(), "--port", "0", "--port-file", port_file.c_str(), "--state-dir",
               state.c_str(), "--config", json.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    // Up to 30 s for python3 to start it: a loaded machine (ASan tests, a build) can take seconds.
    for (int i = 0; i < 1200 && !fs::exists(port_file); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(25));
    auto text = spawn::util::read_file(port_file);
    if (text) url = "http://127.0.0.1:" + *text;
  }
  ~LocalEndpoint() {
    if (m_pid > 0) {
      ::kill(m_pid, SIGTERM);
      ::waitpid(m_pid, nullptr, 0);
    }
    fs::remove_all(m_dir);
  }
  // The control API (JSON).
  nlohmann::json control(const std::string& method, const std::string& path, const nlohmann::json& body = nullptr) {
    HttpRequest r;
    r.method = method;
    r.url = url + "/_spawn/" + path;
    if (!body.is_null()) {
      r.body = body.dump();
      r.headers = {{"Content-Type", "application/json"}};
    }
    auto response = m_transport->send(r);
    if (!response) return nullptr;
    return nlohmann::json::parse(response->body, nullptr, false);
  }
  int count_calls(const std::string& action) {
    int n = 0;
    auto calls = control("GET", "calls");
    for (const auto& c : calls["calls"])
      if (c.value("action", std::string()) == action) ++n;
    return n;
  }
  fs::path dir() const { return m_dir; }
  std::string url;

private:
  static inline int s_counter = 0;
  pid_t m_pid = -1;
  fs::path m_dir;
  std::shared_ptr<Transport> m_transport = make_curl_transport();
};

struct Recorder {
  std::vector<std::chrono::milliseconds> sleeps;
  std::vector<std::string> log;
};

std::shared_ptr<Session> session(std::map<std::string, std::string> env, Recorder* recorder = nullptr,
                                 std::optional<std::string> profile = std::nullopt, int attempts = 6) {
  SessionOptions o;
  o.profile = profile;
  o.environment = fixed_environment(std::move(env));
  o.retry.max_attempts = attempts;
  o.random = [] { return 0.5; };
  if (recorder) {
    o.sleep = [recorder](std::chrono::milliseconds d) { recorder->sleeps.push_back(d); };
    o.log = [recorder](std::string_view line) { recorder->log.emplace_back(line); };
  } else {
    o.sleep = [](std::chrono::milliseconds) {};
  }
  auto s = Session::create(o);
  EXPECT_TRUE(s) << (s ? "" : s.error().to_string());
  return s ? *s : nullptr;
}

std::map<std::string, std::string> env_for(const LocalEndpoint& ep) {
  return {{"AWS_ACCESS_KEY_ID", k_key}, {"AWS_SECRET_ACCESS_KEY", k_secret}, {"AWS_REGION", "us-east-1"},
          {"AWS_ENDPOINT_URL", ep.url}, {"HOME", ep.dir().string()}, {"AWS_EC2_METADATA_DISABLED", "true"}};
}

SessionOptions options(std::optional<std::string> profile, std::optional<std::string> region, Environment env) {
  SessionOptions o;
  o.profile = std::move(profile);
  o.region = std::move(region);
  o.environment = std::move(env);
  return o;
}

RunInstancesRequest small_launch(int count, std::string token = "") {
  RunInstancesRequest r;
  r.image_id = "ami-0a1b2c3d4e5f60718";
  r.instance_type = "c5.large";
  r.min_count = r.max_count = count;
  r.client_token = std::move(token);
  r.tags = {{"spawn:job", "7"}, {"spawn:managed", "true"}};
  return r;
}

} // namespace

TEST(AwsClient, SignedRequestsToEveryServiceAreAccepted) {
  LocalEndpoint ep;
  ASSERT_FALSE(ep.url.empty());
  auto s = session(env_for(ep));
  auto who = StsClient(s).get_caller_identity();
  ASSERT_TRUE(who) << who.error().to_string();
  EXPECT_EQ(who->account, "123456789012");
  auto vpcs = Ec2Client(s).describe_vpcs({});
  ASSERT_TRUE(vpcs) << vpcs.error().to_string();
  EXPECT_TRUE(vpcs->at(0).is_default);
  auto ami = SsmClient(s).get_parameter("/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64");
  ASSERT_TRUE(ami) << ami.error().to_string();
  EXPECT_EQ(ami->value, "ami-0a1b2c3d4e5f60718");
  auto missing = SsmClient(s).get_parameter("/no/such");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, "ParameterNotFound");
  // The endpoint's Price List holds every region and the Windows/dedicated/... neighbours: filters narrow it.
  auto prices = PricingClient(s).get_products("AmazonEC2", {{"instanceType", "c5.large"}, {"regionCode", "us-east-1"},
                                                            {"operatingSystem", "Linux"}, {"tenancy", "Shared"},
                                                            {"preInstalledSw", "NA"}, {"capacitystatus", "Used"}});
  ASSERT_TRUE(prices) << prices.error().to_string();
  ASSERT_EQ(prices->size(), 1u);
  EXPECT_EQ((*prices)[0]["terms"]["OnDemand"].begin().value()["priceDimensions"].begin().value()["pricePerUnit"]["USD"],
            "0.0850000000");
  auto types = Ec2Client(s).describe_instance_types({"g4dn.xlarge"});
  ASSERT_TRUE(types) << types.error().to_string();
  EXPECT_EQ(types->at(0).gpu_count, 1);
  EXPECT_EQ(types->at(0).gpu_name, "T4");
  auto spot = Ec2Client(s).describe_spot_price_history({{"c5.large"}, {"Linux/UNIX"}, std::nullopt, std::nullopt, std::nullopt});
  ASSERT_TRUE(spot) << spot.error().to_string();
  EXPECT_EQ(spot->size(), 2u);  // the catalog's c5.large has spot prices in use1-az1 and -az2, not in -az3
}

TEST(AwsClient, WrongSecretIsRejectedWithTypedError) {
  LocalEndpoint ep;
  auto env = env_for(ep);
  env["AWS_SECRET_ACCESS_KEY"] = "not-the-secret";
  auto result = Ec2Client(session(env)).describe_vpcs({});
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, "SignatureDoesNotMatch");
  EXPECT_EQ(result.error().http_status, 403);
  EXPECT_FALSE(result.error().request_id.empty());
  EXPECT_EQ(result.error().to_string().rfind("ec2 DescribeVpcs (us-east-1): SignatureDoesNotMatch: ", 0), 0u)
      << result.error().to_string();
}

TEST(AwsClient, S3PutGetHeadListDelete) {
  LocalEndpoint ep;
  S3Client s3(session(env_for(ep)));
  ASSERT_TRUE(s3.create_bucket("spawn-test"));
  std::string binary("a\0b\xff\n", 5);
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(s3.put_object("spawn-test", "jobs/7/task " + std::to_string(i) + "/out+log.txt", binary));
  auto got = s3.get_object("spawn-test", "jobs/7/task 3/out+log.txt");
  ASSERT_TRUE(got) << got.error().to_string();
  EXPECT_EQ(*got, binary);
  auto head = s3.head_object("spawn-test", "jobs/7/task 3/out+log.txt");
  ASSERT_TRUE(head && *head);
  EXPECT_EQ((*head)->size, 5u);
  auto none = s3.head_object("spawn-test", "nope");
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  auto missing = s3.get_object("spawn-test", "nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, "NoSuchKey");
  auto page = s3.list_objects_page({"spawn-test", "jobs/7/", std::nullopt, 3, ""});
  ASSERT_TRUE(page) << page.error().to_string();
  EXPECT_EQ(page->objects.size(), 3u);
  EXPECT_FALSE(page->next_continuation_token.empty());
  auto all = s3.list_objects("spawn-test", "jobs/7/");
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), 7u);
  auto dirs = s3.list_objects_page({"spawn-test", "jobs/7/", std::string("/"), std::nullopt, ""});
  ASSERT_TRUE(dirs);
  EXPECT_EQ(dirs->common_prefixes.size(), 7u);
  std::vector<std::string> keys;
  for (const auto& o : *all) keys.push_back(o.key);
  auto failed = s3.delete_objects("spawn-test", keys);
  ASSERT_TRUE(failed) << failed.error().to_string();
  EXPECT_TRUE(failed->empty());
  EXPECT_TRUE(s3.list_objects("spawn-test", "")->empty());
}

TEST(AwsClient, S3PutFileGoesMultipartAboveTheThresholdAndAbortsOnFailure) {
  // Against the endpoint with its single PUT limited to 8 MiB: a 13 MiB file arrives whole through signed
  // CreateMultipartUpload/UploadPart/CompleteMultipartUpload; a refused part leaves no upload behind.
  LocalEndpoint ep(nlohmann::json{{"max_put_bytes", 8 << 20}});
  auto env = env_for(ep);
  env["SPAWN_AWS_MULTIPART_THRESHOLD"] = std::to_string(8 << 20);
  env["SPAWN_AWS_MULTIPART_PART_BYTES"] = std::to_string(5 << 20);
  S3Client s3(session(env, nullptr, std::nullopt, 1));
  ASSERT_TRUE(s3.create_bucket("spawn-test"));
  std::string bytes(13 << 20, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>((i * 2654435761u) >> 13);
  fs::path file = ep.dir() / "big file.bin";
  ASSERT_TRUE(spawn::util::write_file_atomic(file, bytes));
  auto put = s3.put_file("spawn-test", "files/big file", file);
  ASSERT_TRUE(put) << put.error().to_string();
  EXPECT_EQ(put->parts, 3u);
  EXPECT_EQ(put->sha256, sha256_hex(bytes));
  EXPECT_TRUE(put->etag.ends_with("-3\"")) << put->etag;
  auto got = s3.get_object("spawn-test", "files/big file");
  ASSERT_TRUE(got) << got.error().to_string();
  EXPECT_TRUE(*got == bytes);
  EXPECT_EQ(ep.count_calls("PUT /spawn-test/files/big%20file"), 3) << "three parts, no PutObject";
  ep.control("POST", "faults", {{"type", "error"}, {"action", "UploadPart"}, {"code", "InvalidRequest"}, {"status", 400}, {"count", 1}});
  auto refused = s3.put_file("spawn-test", "files/other", file);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().to_string().find("s3://spawn-test/files/other"), std::string::npos) << refused.error().to_string();
  EXPECT_FALSE(*s3.head_object("spawn-test", "files/other"));
  EXPECT_EQ(ep.count_calls("DELETE /spawn-test/files/other"), 1) << "the upload is aborted";
  EXPECT_TRUE(fs::is_empty(ep.dir() / "state" / "s3-uploads")) << "no parts left behind";
}

TEST(AwsClient, S3PartsAndRangesGoSideBySide) {
  // The endpoint answers each S3 request after 0.4 s (a slow round trip) and records how many S3 requests it was
  // answering when each began: with SPAWN_AWS_TRANSFER_CONCURRENCY=4 the parts of a 4-part upload overlap (and never
  // more than 4 at once), and so do the 3 ranges after the first of its download; with 1 they never do. Both
  // objects arrive whole and come back whole.
  LocalEndpoint ep(nlohmann::json{{"s3_latency_seconds", 0.4}});
  std::string bytes((18 << 20) + 5, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>((i * 2654435761u) >> 11);
  fs::path file = ep.dir() / "parts.bin";
  ASSERT_TRUE(spawn::util::write_file_atomic(file, bytes));
  for (const char* concurrency : {"4", "1"}) {
    auto env = env_for(ep);
    env["SPAWN_AWS_MULTIPART_THRESHOLD"] = std::to_string(8 << 20);
    env["SPAWN_AWS_MULTIPART_PART_BYTES"] = std::to_string(5 << 20);
    env["SPAWN_AWS_TRANSFER_CONCURRENCY"] = concurrency;
    S3Client s3(session(env, nullptr, std::nullopt, 1));
    if (std::string(concurrency) == "4") {
      ASSERT_TRUE(s3.create_bucket("spawn-test"));
    }
    const std::string key = std::string("files/at-") + concurrency;
    auto put = s3.put_file("spawn-test", key, file);
    ASSERT_TRUE(put) << put.error().to_string();
    EXPECT_EQ(put->parts, 4u);
    EXPECT_EQ(put->sha256, sha256_hex(bytes));
    auto got = s3.get_object("spawn-test", key);
    ASSERT_TRUE(got) << got.error().to_string();
    EXPECT_TRUE(*got == bytes);
    const fs::path back = ep.dir() / (std::string("back-") + concurrency);
    auto down = s3.get_object_to_file("spawn-test", key, back);
    ASSERT_TRUE(down) << down.error().to_string();
    EXPECT_EQ(*down, bytes.size());
    EXPECT_TRUE(spawn::util::read_file(back).value_or("") == bytes);
    int parts = 0, most = 0, ranges = 0, most_ranges = 0;
    auto calls = ep.control("GET", "calls");
    for (const auto& c : calls["calls"]) {
      if (!c.value("action", std::string()).ends_with(key)) continue;
      if (c.value("operation", std::string()) == "UploadPart") {
        ++parts;
        most = std::max(most, c.value("in_flight", 0));
      } else if (c.value("operation", std::string()) == "GetObject" && c.value("status", 0) == 206) {
        ++ranges;
        most_ranges = std::max(most_ranges, c.value("in_flight", 0));
      }
    }
    EXPECT_EQ(parts, 4) << concurrency;
    EXPECT_EQ(ranges, 4) << concurrency << ": the first range, then 3 after it";
    if (std::string(concurrency) == "4") {
      EXPECT_GE(most, 2) << "the parts were sent side by side";
      EXPECT_LE(most, 4);
      EXPECT_GE(most_ranges, 2) << "the ranges were fetched side by side";
      EXPECT_LE(most_ranges, 3);
    } else {
      EXPECT_EQ(most, 1) << "one part after the other";
      EXPECT_EQ(most_ranges, 1) << "one range after the other";
    }
  }
}

TEST(AwsClient, S3ReadsAGrowingObjectFromAnOffset) {
  // spawn logs --follow: each read asks only for the bytes after those already shown.
  LocalEndpoint ep;
  S3Client s3(session(env_for(ep)));
  ASSERT_TRUE(s3.create_bucket("spawn-test"));
  auto missing = s3.get_object_from("spawn-test", "out", 0);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, "NoSuchKey");
  ASSERT_TRUE(s3.put_object("spawn-test", "out", "line 1\n"));
  auto first = s3.get_object_from("spawn-test", "out", 0);
  ASSERT_TRUE(first) << first.error().to_string();
  EXPECT_EQ(*first, "line 1\n");
  auto nothing_new = s3.get_object_from("spawn-test", "out", 7);
  ASSERT_TRUE(nothing_new) << nothing_new.error().to_string();
  EXPECT_EQ(*nothing_new, "");
  ASSERT_TRUE(s3.put_object("spawn-test", "out", "line 1\nline 2\n"));
  auto next = s3.get_object_from("spawn-test", "out", 7);
  ASSERT_TRUE(next) << next.error().to_string();
  EXPECT_EQ(*next, "line 2\n");
}

TEST(AwsClient, S3DownloadsToAFileAndARetriedDownloadStartsOver) {
  // A result larger than memory: the body goes to a file as it arrives; a connection cut mid-body is retried and
  // the file starts over, so it never holds the first attempt's bytes twice.
  LocalEndpoint ep;
  Recorder recorder;
  S3Client s3(session(env_for(ep), &recorder));
  ASSERT_TRUE(s3.create_bucket("spawn-test"));
  std::string body;
  for (int i = 0; body.size() < 300000; ++i) body += "line " + std::to_string(i) + "\n";
  ASSERT_TRUE(s3.put_object("spawn-test", "jobs/7/back.tar.gz.000", body));
  ep.control("POST", "faults", {{"type", "cut"}, {"action", "GET /spawn-test/jobs/7/back.tar.gz.000"}, {"bytes", 100000}, {"count", 1}});
  const fs::path target = ep.dir() / "down" / "piece";
  fs::create_directories(target.parent_path());
  auto got = s3.get_object_to_file("spawn-test", "jobs/7/back.tar.gz.000", target);
  ASSERT_TRUE(got) << got.error().to_string();
  EXPECT_EQ(*got, body.size());
  EXPECT_EQ(spawn::util::read_file(target).value_or(""), body);
  EXPECT_EQ(ep.count_calls("GET /spawn-test/jobs/7/back.tar.gz.000"), 2);
  EXPECT_EQ(recorder.sleeps.size(), 1u);
  // A missing key: NoSuchKey, nothing written, no temporary left.
  auto missing = s3.get_object_to_file("spawn-test", "nope", ep.dir() / "down" / "nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, "NoSuchKey");
  EXPECT_EQ(std::distance(fs::directory_iterator(target.parent_path()), fs::directory_iterator()), 1);
  // A file that cannot be written is this machine's error, not retried, and names the path.
  auto unwritable = s3.get_object_to_file("spawn-test", "jobs/7/back.tar.gz.000", ep.dir() / "no-such-dir" / "piece");
  ASSERT_FALSE(unwritable);
  EXPECT_EQ(unwritable.error().kind, ErrorKind::local);
  EXPECT_NE(unwritable.error().message.find((ep.dir() / "no-such-dir" / "piece").string() + ": cannot create a temporary file"),
            std::string::npos)
      << unwritable.error().message;
}

TEST(AwsClient, ProfilesFromConfigAndCredentialsFiles) {
  LocalEndpoint ep;
  fs::create_directories(ep.dir() / ".aws");
  std::ofstream(ep.dir() / ".aws" / "config") << "[default]\nregion = eu-west-1\n[profile dev]\nregion = eu-central-1\n"
                                                 "s3 =\n  max_concurrent_requests = 2\n"
                                                 "[profile proc]\nregion = us-west-2\ncredential_process = "
                                              << (ep.dir() / "creds.sh").string() << "\n";
  std::ofstream(ep.dir() / ".aws" / "credentials") << "[dev]\naws_access_key_id = " << k_key
                                                   << "\naws_secret_access_key = " << k_secret << "\n";
  std::ofstream(ep.dir() / "creds.sh") << "#!/bin/sh\necho '{\"Version\": 1, \"AccessKeyId\": \"" << k_key
                                       << "\", \"SecretAccessKey\": \"" << k_secret
                                       << "\", \"SessionToken\": \"tok\", \"Expiration\": \"2200-01-01T00:00:00Z\"}'\n";
  fs::permissions(ep.dir() / "creds.sh", fs::perms::owner_all);
  std::map<std::string, std::string> env{{"HOME", ep.dir().string()}, {"AWS_ENDPOINT_URL", ep.url},
                                         {"AWS_EC2_METADATA_DISABLED", "true"}};

  auto dev_env = env;
  dev_env["AWS_PROFILE"] = "dev";
  auto dev = session(dev_env);
  EXPECT_EQ(dev->region(), "eu-central-1");
  auto who = StsClient(dev).get_caller_identity();
  ASSERT_TRUE(who) << who.error().to_string();
  EXPECT_EQ(dev->credentials()->source, "profile dev (" + (ep.dir() / ".aws" / "credentials").string() + ")");

  auto proc = session(env, nullptr, "proc");
  EXPECT_EQ(proc->region(), "us-west-2");
  auto proc_who = StsClient(proc).get_caller_identity();
  ASSERT_TRUE(proc_who) << proc_who.error().to_string();
  EXPECT_EQ(proc->credentials()->session_token, "tok");
  EXPECT_TRUE(ep.control("GET", "calls")["calls"].back()["security_token"].get<bool>());

  // --profile wins over environment keys (as the AWS CLI); AWS_REGION wins over the profile's region.
  auto both = env;
  both["AWS_ACCESS_KEY_ID"] = "AKIDWRONG";
  both["AWS_SECRET_ACCESS_KEY"] = "wrong";
  both["AWS_REGION"] = "ap-south-1";
  auto explicit_profile = session(both, nullptr, "dev");
  EXPECT_EQ(explicit_profile->region(), "ap-south-1");
  EXPECT_EQ(explicit_profile->credentials()->access_key_id, k_key);

  auto unknown = Session::create(options("nope", "us-east-1", fixed_environment(env)));
  ASSERT_TRUE(unknown);
  auto error = (*unknown)->credentials();
  ASSERT_FALSE(error);
  EXPECT_NE(error.error().message.find("the config profile \"nope\" could not be found"), std::string::npos) << error.error().message;

  auto no_region = env;
  no_region["HOME"] = "/nonexistent";
  auto s = Session::create(options(std::nullopt, std::nullopt, fixed_environment(no_region)));
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().kind, ErrorKind::config);
}

TEST(AwsClient, InstanceRoleCredentialsFromImds) {
  LocalEndpoint ep;
  auto admin = session(env_for(ep));
  auto launch = small_launch(1);
  launch.iam_instance_profile = "spawn-instance";
  auto r = Ec2Client(admin).run_instances(launch);
  ASSERT_TRUE(r) << r.error().to_string();
  std::string id = r->instances.at(0).id;
  std::map<std::string, std::string> env{{"HOME", "/nonexistent"}, {"AWS_REGION", "us-east-1"}, {"AWS_ENDPOINT_URL", ep.url},
                                         {"AWS_EC2_METADATA_SERVICE_ENDPOINT", ep.url + "/imds/" + id + "/"}};
  auto on_instance = session(env);
  auto who = StsClient(on_instance).get_caller_identity();
  ASSERT_TRUE(who) << who.error().to_string();
  EXPECT_EQ(who->arn, "arn:aws:sts::123456789012:assumed-role/spawn-instance/i");
  auto creds = on_instance->credentials();
  EXPECT_EQ(creds->source, "instance role spawn-instance (IMDS)");
  EXPECT_TRUE(creds->expiration.has_value());

  env["AWS_EC2_METADATA_DISABLED"] = "true";
  auto disabled = StsClient(session(env)).get_caller_identity();
  ASSERT_FALSE(disabled);
  EXPECT_EQ(disabled.error().kind, ErrorKind::credentials);
}

TEST(AwsClient, ServiceSpecificEndpointOverride) {
  LocalEndpoint ep;
  auto env = env_for(ep);
  env["AWS_ENDPOINT_URL"] = "http://127.0.0.1:1";
  env["AWS_ENDPOINT_URL_EC2"] = ep.url;
  auto s = session(env, nullptr, std::nullopt, 2);
  EXPECT_EQ(s->endpoint(Service::ec2), ep.url);
  EXPECT_EQ(s->endpoint(Service::s3), "http://127.0.0.1:1");
  EXPECT_TRUE(Ec2Client(s).describe_vpcs({}));
  auto sts = StsClient(s).get_caller_identity();
  ASSERT_FALSE(sts);
  EXPECT_EQ(sts.error().kind, ErrorKind::network);
  EXPECT_EQ(sts.error().attempts, 2);

  auto defaults = session({{"AWS_REGION", "eu-west-1"}, {"HOME", "/nonexistent"}});
  EXPECT_EQ(defaults->endpoint(Service::ec2), "https://ec2.eu-west-1.amazonaws.com");
  EXPECT_EQ(defaults->endpoint(Service::pricing, "us-east-1"), "https://api.pricing.us-east-1.amazonaws.com");
}

TEST(AwsClient, ThrottlingIsRetriedWithBackoffThenGivesUp) {
  LocalEndpoint ep;
  Recorder rec;
  auto s = session(env_for(ep), &rec, std::nullopt, 5);
  ep.control("POST", "faults", {{"type", "throttle"}, {"action", "DescribeVpcs"}, {"count", 3}});
  auto ok = Ec2Client(s).describe_vpcs({});
  ASSERT_TRUE(ok) << ok.error().to_string();
  EXPECT_EQ(ep.count_calls("DescribeVpcs"), 4);
  // Full jitter with random() = 0.5: half of 200, 400, 800 ms.
  EXPECT_EQ(rec.sleeps, (std::vector<std::chrono::milliseconds>{std::chrono::milliseconds(100), std::chrono::milliseconds(200),
                                                                std::chrono::milliseconds(400)}));
  ep.control("POST", "faults", {{"type", "throttle"}, {"action", "DescribeVpcs"}, {"count", 10}});
  auto failed = Ec2Client(s).describe_vpcs({});
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, "RequestLimitExceeded");
  EXPECT_EQ(failed.error().kind, ErrorKind::throttling);
  EXPECT_EQ(failed.error().attempts, 5);
  EXPECT_EQ(ep.count_calls("DescribeVpcs"), 9);

  // A capacity error is not retried: the launcher fails over instead.
  ep.control("POST", "faults", {{"type", "capacity"}, {"instance_type", "c5.large"}, {"count", 1}});
  auto capacity = Ec2Client(s).run_instances(small_launch(1));
  ASSERT_FALSE(capacity);
  EXPECT_TRUE(capacity.error().is_capacity_error());
  EXPECT_EQ(capacity.error().attempts, 1);
  // A dropped connection is a network error, retried.
  ep.control("POST", "faults", {{"type", "drop"}, {"count", 1}});
  EXPECT_TRUE(StsClient(s).get_caller_identity());
}

TEST(AwsClient, ClientTokenMakesRetriedLaunchesIdempotent) {
  LocalEndpoint ep({{"run_bucket_capacity", 10}, {"run_bucket_refill", 0.0}});
  Ec2Client ec2(session(env_for(ep)));
  auto first = ec2.run_instances(small_launch(3, "spawn-7-batch-0"));
  ASSERT_TRUE(first) << first.error().to_string();
  auto again = ec2.run_instances(small_launch(3, "spawn-7-batch-0"));
  ASSERT_TRUE(again) << again.error().to_string();
  EXPECT_EQ(first->reservation_id, again->reservation_id);
  EXPECT_EQ(first->instances.at(2).id, again->instances.at(2).id);
  auto changed = small_launch(3, "spawn-7-batch-0");
  changed.instance_type = "m5.large";
  auto mismatch = ec2.run_instances(changed);
  ASSERT_FALSE(mismatch);
  EXPECT_EQ(mismatch.error().code, "IdempotentParameterMismatch");
  // The token bucket: 10 instances, no refill; 3 used, a request for 8 is throttled (after retries).
  auto throttled = ec2.run_instances(small_launch(8, "spawn-7-batch-1"));
  ASSERT_FALSE(throttled);
  EXPECT_EQ(throttled.error().code, "RequestLimitExceeded");
  auto all = ec2.describe_instances({{}, {{"tag:spawn:job", {"7"}}}, std::nullopt});
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), 3u);
}

TEST(AwsClient, DescribeFollowsPagesAndBatchesTerminate) {
  LocalEndpoint ep;
  auto s = session(env_for(ep));
  Ec2Client ec2(s);
  auto launched = ec2.run_instances(small_launch(12));
  ASSERT_TRUE(launched) << launched.error().to_string();
  auto extra = small_launch(2);
  extra.tags = {{"spawn:job", "8"}};
  ASSERT_TRUE(ec2.run_instances(extra));
  auto page_calls = ep.count_calls("DescribeInstances");
  auto mine = ec2.describe_instances({{}, {{"tag:spawn:job", {"7"}}}, 5});
  ASSERT_TRUE(mine) << mine.error().to_string();
  EXPECT_EQ(mine->size(), 12u);
  EXPECT_EQ(ep.count_calls("DescribeInstances") - page_calls, 3);
  std::set<int> indexes;
  for (const auto& i : *mine) indexes.insert(i.launch_index);
  EXPECT_EQ(indexes.size(), 12u);
  std::vector<std::string> ids;
  for (const auto& i : *mine) ids.push_back(i.id);
  auto by_id = ec2.describe_instances({ids, {}, std::nullopt});
  ASSERT_TRUE(by_id);
  EXPECT_EQ(by_id->size(), 12u);
  auto changes = ec2.terminate_instances(ids);
  ASSERT_TRUE(changes) << changes.error().to_string();
  EXPECT_EQ(changes->size(), 12u);
  EXPECT_EQ(changes->at(0).current, InstanceState::shutting_down);
  // Until the endpoint has moved them on (0.2 s after, when its ticker thread gets to run).
  decltype(ec2.describe_instances({ids, {}, std::nullopt})) after;
  for (int attempt = 0; attempt < 300; ++attempt) {
    after = ec2.describe_instances({ids, {}, std::nullopt});
    ASSERT_TRUE(after) << after.error().to_string();
    if (std::all_of(after->begin(), after->end(), [](const auto& i) { return i.state == InstanceState::terminated; }))
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (const auto& i : *after) {
    EXPECT_EQ(i.state, InstanceState::terminated) << i.id;
    EXPECT_EQ(i.state_reason_code, "Client.UserInitiatedShutdown");
  }
  auto bad = ec2.terminate_instances({"i-0000000000000dead"});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, "InvalidInstanceID.NotFound");
}

TEST(AwsClient, SecretsNeverAppearInErrorsOrLogs) {
  const std::string secret = "SPAWNFAKESECRET/recognisable+abcdef0123";
  const std::string token = "SPAWNFAKETOKEN-recognisable-session-token";
  LocalEndpoint ep;
  Recorder rec;
  std::vector<std::string> texts;
  auto env = env_for(ep);
  env["AWS_SECRET_ACCESS_KEY"] = secret;
  env["AWS_SESSION_TOKEN"] = token;
  auto s = session(env, &rec, std::nullopt, 3);
  // Signature mismatch (the endpoint knows another secret for this key), throttling, unreachable endpoint.
  auto wrong = Ec2Client(s).run_instances(small_launch(1));
  ASSERT_FALSE(wrong);
  texts.push_back(wrong.error().to_string());
  ep.control("POST", "faults", {{"type", "throttle"}, {"count", 10}});
  auto throttled = Ec2Client(s).describe_vpcs({});
  ASSERT_FALSE(throttled);
  texts.push_back(throttled.error().to_string());
  env["AWS_ENDPOINT_URL"] = "http://127.0.0.1:1";
  auto unreachable = StsClient(session(env, &rec, std::nullopt, 2)).get_caller_identity();
  ASSERT_FALSE(unreachable);
  texts.push_back(unreachable.error().to_string());
  // A credential_process that fails after printing the secret, and one printing it in invalid JSON.
  fs::create_directories(ep.dir() / ".aws");
  std::ofstream(ep.dir() / ".aws" / "config") << "[profile bad]\ncredential_process = sh -c 'echo " << secret
                                              << "; exit 3'\n[profile garbage]\ncredential_process = echo {" << secret << "\n";
  for (const char* profile : {"bad", "garbage"}) {
    auto p = Session::create(options(profile, "us-east-1", fixed_environment(env_for(ep))));
    auto c = (*p)->credentials();
    ASSERT_FALSE(c);
    texts.push_back(c.error().to_string());
  }
  // IMDS answering a credentials document that is not what the client expects.
  auto c = Credentials{k_key, secret, token, std::nullopt, "environment"};
  texts.push_back(c.describe());
  texts.insert(texts.end(), rec.log.begin(), rec.log.end());
  ASSERT_GE(texts.size(), 8u);
  for (const auto& text : texts) {
    EXPECT_EQ(text.find("SPAWNFAKESECRET"), std::string::npos) << text;
    EXPECT_EQ(text.find("SPAWNFAKETOKEN"), std::string::npos) << text;
  }
  // Nothing the endpoint stored (its call log, S3 state) holds them either.
  auto calls = ep.control("GET", "calls").dump();
  EXPECT_EQ(calls.find("SPAWNFAKESECRET"), std::string::npos);
  EXPECT_EQ(calls.find("SPAWNFAKETOKEN"), std::string::npos);
  EXPECT_NE(texts[0].find("SignatureDoesNotMatch"), std::string::npos) << texts[0];
  EXPECT_NE(texts[3].find("credential_process of profile \"bad\": command failed (exit status 3)"), std::string::npos) << texts[3];
}
