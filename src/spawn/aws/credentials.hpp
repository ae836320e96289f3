#pragma once
// AWS credentials as a value. The secret and the session token are never printed: describe() shows where the
// credentials came from and the last four characters of the access key id, nothing else.
#include <chrono>
#include <optional>
#include <string>

namespace spawn::aws {

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;  // secret: never in logs, errors, state or user data
  std::string session_token;      // secret; empty for long-term keys
  std::optional<std::chrono::system_clock::time_point> expiration;  // nullopt: does not expire
  std::string source;             // "environment", "profile dev (credentials file)", "instance role r (IMDS)", ...

  // "access key ...WXYZ from environment"; safe to show.
  std::string describe() const;
  // True when the credentials expire within margin of now.
  bool expires_within(std::chrono::seconds margin, std::chrono::system_clock::time_point now) const;
};

} // namespace spawn::aws
