#pragma once
// A failed AWS call as a typed value: which service, operation and region, AWS's error code, message and
// request id, the HTTP status, and whether retrying could help. Never carries credentials.
#include <string>

#include <tl/expected.hpp>

namespace spawn::aws {

enum class ErrorKind {
  service,      // AWS answered with an error document (code/message)
  throttling,   // RequestLimitExceeded, Throttling, SlowDown, HTTP 429/503
  network,      // no HTTP answer: connect, TLS, timeout
  credentials,  // no usable credentials
  config,       // no region, bad endpoint URL, bad profile
  parse,        // an answer spawn cannot read
  local,        // this machine: a downloaded body could not be written (a full disk)
};

struct AwsError {
  ErrorKind kind = ErrorKind::service;
  std::string service;    // "ec2", "s3", "sts", "ssm", "pricing", "imds"
  std::string operation;  // "RunInstances"
  std::string region;
  std::string code;       // AWS's code ("InsufficientInstanceCapacity"); empty when AWS sent none
  std::string message;    // AWS's message or what went wrong
  std::string request_id;
  long http_status = 0;   // 0: no HTTP answer
  int attempts = 1;       // how many times the request was sent

  // "ec2 RunInstances (us-east-1): InsufficientInstanceCapacity: <message> [HTTP 500, request id r-1, 3 attempts]".
  std::string to_string() const;
  // Whether sending the same request again may succeed (throttling, network, 5xx that is not a capacity error).
  bool retryable() const;
  // Whether the code is one of EC2's capacity errors a launcher fails over on (another type, zone or market).
  bool is_capacity_error() const;
};

template <typename T> using Result = tl::expected<T, AwsError>;
using Failure = tl::unexpected<AwsError>;

// True for the throttling codes every AWS SDK retries with backoff.
bool is_throttling_code(std::string_view code);

} // namespace spawn::aws
