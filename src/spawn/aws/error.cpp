#include "aws/error.hpp"

#include <array>
#include <string_view>

namespace spawn::aws {

namespace {
constexpr std::array<std::string_view, 9> k_throttling_codes = {
    "RequestLimitExceeded", "Throttling", "ThrottlingException", "ThrottledException", "SlowDown",
    "TooManyRequestsException", "RequestThrottled", "RequestThrottledException", "ProvisionedThroughputExceededException"};
constexpr std::array<std::string_view, 7> k_capacity_codes = {
    "InsufficientInstanceCapacity", "InsufficientHostCapacity", "InsufficientReservedInstanceCapacity",
    "InsufficientCapacity", "MaxSpotInstanceCountExceeded", "SpotMaxPriceTooLow", "Unsupported"};
constexpr std::array<std::string_view, 5> k_transient_codes = {"InternalError", "InternalFailure", "ServiceUnavailable",
                                                               "Unavailable", "RequestTimeout"};
} // namespace

bool is_throttling_code(std::string_view code) {
  for (auto c : k_throttling_codes)
    if (c == code) return true;
  return false;
}

bool AwsError::is_capacity_error() const {
  for (auto c : k_capacity_codes)
    if (c == code) return true;
  return false;
}

bool AwsError::retryable() const {
  switch (kind) {
  case ErrorKind::throttling:
  case ErrorKind::network: return true;
  case ErrorKind::credentials:
  case ErrorKind::config:
  case ErrorKind::parse:
  case ErrorKind::local: return false;
  case ErrorKind::service: break;
  }
  if (is_capacity_error()) return false;
  for (auto c : k_transient_codes)
    if (c == code) return true;
  return http_status == 500 || http_status == 502 || http_status == 503 || http_status == 504;
}

std::string AwsError::to_string() const {
  std::string out = service;
  if (!operation.empty()) out += " " + operation;
  if (!region.empty()) out += " (" + region + ")";
  out += ": ";
  if (!code.empty()) out += code + ": ";
  out += message.empty() ? std::string("no message") : message;
  std::string details;
  if (http_status != 0) details = "HTTP " + std::to_string(http_status);
  if (!request_id.empty()) details += (details.empty() ? "" : ", ") + std::string("request id ") + request_id;
  if (attempts > 1) details += (details.empty() ? "" : ", ") + std::to_string(attempts) + " attempts";
  if (!details.empty()) out += " [" + details + "]";
  return out;
}

} // namespace spawn::aws
