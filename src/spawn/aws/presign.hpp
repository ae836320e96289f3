#pragma once
// Presigned S3 URLs (SigV4 query-string authentication): what a stock instance without the AWS CLI uses to fetch
// its task and upload its logs with plain curl. A URL grants one method on one key until it expires; it carries
// the access key id and a signature, never the secret.
#include <chrono>
#include <string>

#include "aws/session.hpp"

namespace spawn::aws {

// The longest validity SigV4 allows for a presigned URL (7 days).
inline constexpr std::chrono::seconds k_max_presign_validity{604800};

// A URL allowing `method` ("GET", "PUT", "HEAD") on bucket/key for `validity` (clamped to 1 s .. 7 days), signed
// with the session's current credentials; the payload is UNSIGNED-PAYLOAD, so any body may be PUT.
Result<std::string> presign_s3(Session& session, const std::string& method, const std::string& bucket,
                               const std::string& key, std::chrono::seconds validity,
                               std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

} // namespace spawn::aws
