#pragma once
// Where the AWS CLI looks for credentials, region and endpoints: the environment, ~/.aws/config and
// ~/.aws/credentials (or AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE), credential_process, and IMDSv2.
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "aws/credentials.hpp"
#include "aws/error.hpp"
#include "aws/http.hpp"

namespace spawn::aws {

// Reads an environment variable; tests pass a map instead of the process environment.
using Environment = std::function<std::optional<std::string>(std::string_view name)>;
// The process environment (getenv).
Environment process_environment();
// An environment made of exactly these variables.
Environment fixed_environment(std::map<std::string, std::string> variables);

// One INI file as the AWS CLI reads it: section -> key -> value (nested "key =\n  sub = v" lines are skipped).
using IniFile = std::map<std::string, std::map<std::string, std::string>>;
// Parses INI text; comments start with '#' or ';'.
IniFile parse_ini(std::string_view text);

// Which profile and where its files are, as the CLI decides.
struct ProfileSource {
  std::string name;              // "default" when nothing names one
  bool explicit_option = false;  // named by --profile: environment keys are then ignored, as the CLI does
  std::map<std::string, std::string> config;       // the [profile x] / [default] section of the config file
  std::map<std::string, std::string> credentials;  // the [x] section of the credentials file
  bool found = false;            // the profile exists in either file
  std::string config_path, credentials_path;
};

// Loads the named profile (option) else AWS_PROFILE else "default" from the two files.
ProfileSource load_profile(const Environment& env, const std::optional<std::string>& profile_option);

// The region: AWS_REGION, AWS_DEFAULT_REGION, then the profile's region; an error tells the user how to set one.
Result<std::string> resolve_region(const Environment& env, const ProfileSource& profile);

// The IMDS base URL (AWS_EC2_METADATA_SERVICE_ENDPOINT, default http://169.254.169.254), or nullopt when
// AWS_EC2_METADATA_DISABLED=true.
std::optional<std::string> imds_endpoint(const Environment& env);

// Credentials from IMDSv2: PUT a token, GET the role name and then its credentials (1 s timeout).
Result<Credentials> imds_credentials(Transport& transport, const std::string& endpoint);

// Runs a credential_process command and reads its JSON (Version 1, AccessKeyId, SecretAccessKey, SessionToken,
// Expiration); errors name the profile and exit status, never the command's output.
Result<Credentials> process_credentials(const std::string& command, const std::string& profile);

// The CLI's chain: environment (unless --profile), credentials file, credential_process, config file keys, IMDS.
Result<Credentials> resolve_credentials(const Environment& env, const ProfileSource& profile, Transport& transport);

// Caches resolved credentials and resolves again five minutes before they expire. Thread-safe.
class CredentialsProvider {
public:
  using Resolver = std::function<Result<Credentials>()>;
  explicit CredentialsProvider(Resolver resolver) : m_resolver(std::move(resolver)) {}
  // Fixed credentials (tests, or keys given directly).
  static std::shared_ptr<CredentialsProvider> fixed(Credentials credentials);
  // Current credentials, resolving when none are cached or they are about to expire.
  Result<Credentials> get();
  // Forgets the cached credentials (after an ExpiredToken answer).
  void invalidate();

private:
  Resolver m_resolver;
  std::mutex m_mutex;
  std::optional<Credentials> m_cached;
};

} // namespace spawn::aws
