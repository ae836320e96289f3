#pragma once
// What every AWS call shares: region, credentials, endpoints, the transport, and retries with backoff.
// Service clients (ec2.hpp, s3.hpp, services.hpp) build requests; Session::send signs, sends, retries and turns
// AWS error documents into AwsError.
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "aws/error.hpp"
#include "aws/http.hpp"
#include "aws/profile.hpp"

namespace spawn::aws {

enum class Service { ec2, s3, sts, ssm, pricing, iam };
// The signing name and lower-case id: "ec2", "s3", "sts", "ssm", "pricing", "iam".
const char* to_string(Service service);

// Exponential backoff with full jitter: before attempt n+1 sleep uniform(0, min(cap, base * 2^n)).
struct RetryPolicy {
  int max_attempts = 6;  // including the first
  std::chrono::milliseconds base{200};
  std::chrono::milliseconds cap{20'000};
};

struct SessionOptions {
  std::optional<std::string> profile;  // --profile; nullopt: AWS_PROFILE or "default"
  std::optional<std::string> region;   // --region; nullopt: environment, then profile
  Environment environment = process_environment();
  std::shared_ptr<Transport> transport;                      // nullptr: libcurl
  std::shared_ptr<CredentialsProvider> credentials;          // nullptr: the CLI's chain
  RetryPolicy retry;
  std::function<void(std::chrono::milliseconds)> sleep;      // nullptr: std::this_thread::sleep_for
  std::function<double()> random;                            // uniform [0,1); nullptr: a seeded engine
  std::function<void(std::string_view)> log;                 // debug lines; never given a secret
};

// One request before endpoint resolution and signing.
struct ServiceRequest {
  Service service = Service::ec2;
  std::string operation;        // for messages and logs: "RunInstances"
  std::string method = "POST";
  std::string path = "/";       // encoded path below the endpoint ("/", "/key/with%20space")
  std::string query;            // canonical query, sorted, without '?'
  Headers headers;
  std::string body;
  std::string bucket;                        // S3: the bucket (virtual-hosted or path-style as the endpoint allows)
  std::optional<std::string> signing_region; // Pricing: its own region
  std::optional<std::chrono::milliseconds> timeout;  // the whole exchange; nullopt: the transport's 30 s
  BodySink* sink = nullptr;  // a 2xx body goes there instead of HttpResponse::body, restarted for each attempt;
                             // without a timeout the exchange then has no total limit, only a stall limit
  const std::atomic<bool>* cancel = nullptr;  // true: the exchange (or the wait before a retry) is abandoned promptly
                                              // with an error of kind local, "cancelled"
};

class Session {
public:
  // Resolves region, profile and (lazily) credentials; fails with a config error when no region is known.
  static Result<std::shared_ptr<Session>> create(SessionOptions options);

  const std::string& region() const { return m_region; }
  const ProfileSource& profile() const { return m_profile; }
  // The environment the session reads its settings from (the process's, or the one the options gave).
  const Environment& environment() const { return m_options.environment; }
  // The base URL for service (AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL, profile endpoint_url, else AWS's).
  std::string endpoint(Service service, const std::optional<std::string>& region = std::nullopt) const;
  // Whether an endpoint override applies to service (then S3 is addressed path-style).
  bool endpoint_overridden(Service service) const;
  // Signs and sends request, retrying throttling, 5xx and network errors; a non-2xx answer becomes an AwsError.
  // Safe to call from several threads at once (an upload's parts): credentials are resolved and refreshed under a
  // lock, the transport and the retry jitter are shared safely; the options' sleep and log must be thread-safe too.
  // The request is taken by value so that a body given with std::move is sent without a copy.
  Result<HttpResponse> send(ServiceRequest request);
  // The current credentials (resolving them if needed).
  Result<Credentials> credentials() { return m_credentials->get(); }
  // Writes a debug line when a logger is set.
  void log(std::string_view line) const;

private:
  explicit Session(SessionOptions options) : m_options(std::move(options)) {}
  std::optional<std::string> override_for(Service service) const;
  std::chrono::milliseconds backoff(int attempt);

  SessionOptions m_options;
  std::string m_region;
  ProfileSource m_profile;
  std::shared_ptr<CredentialsProvider> m_credentials;
  std::mutex m_random_mutex;
};

// Parses an AWS error answer (EC2/STS/S3 XML or JSON 1.1) into code, message and request id.
AwsError parse_error_response(const HttpResponse& response);

} // namespace spawn::aws
