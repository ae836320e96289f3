#include "aws/profile.hpp"

#include <cstdio>
#include <cstdlib>
#include <sys/wait.h>

#include <nlohmann/json.hpp>

#include "aws/encoding.hpp"
#include "util/files.hpp"
#include "util/strings.hpp"

namespace spawn::aws {

namespace {

AwsError credentials_error(std::string message) {
  AwsError e;
  e.kind = ErrorKind::credentials;
  e.service = "credentials";
  e.message = std::move(message);
  return e;
}

bool truthy(const std::optional<std::string>& value) { return value && util::iequals(util::trim(*value), "true"); }

std::string home_path(const Environment& env, const char* file) {
  auto home = env("HOME");
  return (home ? *home : std::string(".")) + "/.aws/" + file;
}

} // namespace

Environment process_environment() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (!value) return std::nullopt;
    return std::string(value);
  };
}

Environment fixed_environment(std::map<std::string, std::string> variables) {
  return [vars = std::move(variables)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

IniFile parse_ini(std::string_view text) {
  IniFile out;
  std::string section;
  bool in_section = false;
  for (const auto& raw : util::split(text, '\n')) {
    std::string_view line = raw;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    bool indented = !line.empty() && (line.front() == ' ' || line.front() == '\t');
    auto trimmed = util::trim(line);
    if (trimmed.empty() || trimmed.front() == '#' || trimmed.front() == ';') continue;
    if (trimmed.front() == '[' && trimmed.back() == ']') {
      section = std::string(util::trim(trimmed.substr(1, trimmed.size() - 2)));
      in_section = true;
      out[section];
      continue;
    }
    if (!in_section || indented) continue;  // nested sub-keys (s3 = ...) are not used here
    auto eq = trimmed.find('=');
    if (eq == std::string_view::npos) continue;
    auto key = util::to_lower(util::trim(trimmed.substr(0, eq)));
    auto value = util::trim(trimmed.substr(eq + 1));
    out[section][key] = std::string(value);
  }
  return out;
}

ProfileSource load_profile(const Environment& env, const std::optional<std::string>& profile_option) {
  ProfileSource p;
  if (profile_option && !profile_option->empty()) {
    p.name = *profile_option;
    p.explicit_option = true;
  } else if (auto named = env("AWS_PROFILE"); named && !named->empty()) {
    p.name = *named;
  } else if (auto named_default = env("AWS_DEFAULT_PROFILE"); named_default && !named_default->empty()) {
    p.name = *named_default;
  } else {
    p.name = "default";
  }
  auto config_file = env("AWS_CONFIG_FILE");
  auto credentials_file = env("AWS_SHARED_CREDENTIALS_FILE");
  p.config_path = config_file ? *config_file : home_path(env, "config");
  p.credentials_path = credentials_file ? *credentials_file : home_path(env, "credentials");
  if (auto text = util::read_file(p.config_path)) {
    auto ini = parse_ini(*text);
    auto section = p.name == "default" ? ini.find("default") : ini.find("profile " + p.name);
    if (section == ini.end() && p.name == "default") section = ini.find("profile default");
    if (section != ini.end()) {
      p.config = section->second;
      p.found = true;
    }
  }
  if (auto text = util::read_file(p.credentials_path)) {
    auto ini = parse_ini(*text);
    if (auto section = ini.find(p.name); section != ini.end()) {
      p.credentials = section->second;
      p.found = true;
    }
  }
  return p;
}

Result<std::string> resolve_region(const Environment& env, const ProfileSource& profile) {
  for (const char* name : {"AWS_REGION", "AWS_DEFAULT_REGION"})
    if (auto value = env(name); value && !value->empty()) return *value;
  if (auto it = profile.config.find("region"); it != profile.config.end() && !it->second.empty()) return it->second;
  AwsError e;
  e.kind = ErrorKind::config;
  e.service = "config";
  e.message = "no AWS region: set AWS_REGION, or region in profile " + util::quote(profile.name) + " of " +
              profile.config_path;
  return Failure(e);
}

std::optional<std::string> imds_endpoint(const Environment& env) {
  if (truthy(env("AWS_EC2_METADATA_DISABLED"))) return std::nullopt;
  auto endpoint = env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
  std::string url = endpoint && !endpoint->empty() ? *endpoint : std::string("http://169.254.169.254");
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

Result<Credentials> imds_credentials(Transport& transport, const std::string& endpoint) {
  auto fail = [&](std::string message, long status = 0) {
    AwsError e = credentials_error(std::move(message));
    e.service = "imds";
    e.http_status = status;
    return Failure(e);
  };
  HttpRequest token_request;
  token_request.method = "PUT";
  token_request.url = endpoint + "/latest/api/token";
  token_request.headers = {{"X-aws-ec2-metadata-token-ttl-seconds", "21600"}};
  token_request.timeout = std::chrono::milliseconds(1000);
  token_request.connect_timeout = std::chrono::milliseconds(1000);
  auto token = transport.send(token_request);
  if (!token) return fail("instance metadata service at " + endpoint + " not available: " + token.error());
  if (token->status != 200) return fail("instance metadata service at " + endpoint + " refused a token", token->status);

  auto get = [&](const std::string& path) -> Result<std::string> {
    HttpRequest r;
    r.url = endpoint + path;
    r.headers = {{"X-aws-ec2-metadata-token", token->body}};
    r.timeout = std::chrono::milliseconds(1000);
    r.connect_timeout = std::chrono::milliseconds(1000);
    auto answer = transport.send(r);
    if (!answer) return fail("instance metadata service at " + endpoint + ": " + answer.error());
    if (answer->status != 200) return fail("instance metadata " + path + " answered " + std::to_string(answer->status), answer->status);
    return answer->body;
  };
  auto roles = get("/latest/meta-data/iam/security-credentials/");
  if (!roles) return Failure(roles.error());
  std::string role(util::trim(util::split(*roles, '\n').front()));
  if (role.empty()) return fail("instance at " + endpoint + " has no IAM role");
  auto document = get("/latest/meta-data/iam/security-credentials/" + role);
  if (!document) return Failure(document.error());
  auto json = nlohmann::json::parse(*document, nullptr, false);
  // The document holds the secret: errors say what is missing, never what was there.
  if (!json.is_object() || !json.contains("AccessKeyId") || !json.contains("SecretAccessKey"))
    return fail("instance role " + util::quote(role) + ": metadata credentials document is not valid JSON with AccessKeyId and SecretAccessKey");
  Credentials c;
  c.access_key_id = json.value("AccessKeyId", "");
  c.secret_access_key = json.value("SecretAccessKey", "");
  c.session_token = json.value("Token", "");
  if (json.contains("Expiration") && json["Expiration"].is_string()) c.expiration = parse_iso8601(json["Expiration"].get<std::string>());
  c.source = "instance role " + role + " (IMDS)";
  return c;
}

Result<Credentials> process_credentials(const std::string& command, const std::string& profile) {
  std::string where = "credential_process of profile " + util::quote(profile);
  std::FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return Failure(credentials_error(where + ": cannot start the command"));
  std::string output;
  char buffer[4096];
  while (auto n = std::fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  int status = ::pclose(pipe);
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return Failure(credentials_error(where + ": command failed (exit status " +
                                     std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + ")"));
  auto json = nlohmann::json::parse(output, nullptr, false);
  if (!json.is_object()) return Failure(credentials_error(where + ": output is not a JSON object"));
  if (!json.contains("Version") || json["Version"] != 1)
    return Failure(credentials_error(where + ": output must have \"Version\": 1"));
  for (const char* key : {"AccessKeyId", "SecretAccessKey"})
    if (!json.contains(key) || !json[key].is_string())
      return Failure(credentials_error(where + ": output has no string " + key));
  Credentials c;
  c.access_key_id = json["AccessKeyId"].get<std::string>();
  c.secret_access_key = json["SecretAccessKey"].get<std::string>();
  if (json.contains("SessionToken") && json["SessionToken"].is_string()) c.session_token = json["SessionToken"].get<std::string>();
  if (json.contains("Expiration") && json["Expiration"].is_string()) {
    auto expiration = parse_iso8601(json["Expiration"].get<std::string>());
    if (!expiration) return Failure(credentials_error(where + ": Expiration is not an ISO 8601 time"));
    if (*expiration <= std::chrono::system_clock::now())
      return Failure(credentials_error(where + ": returned credentials that expired at " + format_iso8601(*expiration)));
    c.expiration = expiration;
  }
  c.source = "profile " + profile + " (credential_process)";
  return c;
}

Result<Credentials> resolve_credentials(const Environment& env, const ProfileSource& profile, Transport& transport) {
  if (!profile.explicit_option) {
    auto key = env("AWS_ACCESS_KEY_ID"), secret = env("AWS_SECRET_ACCESS_KEY");
    if (key && secret && !key->empty() && !secret->empty()) {
      Credentials c;
      c.access_key_id = *key;
      c.secret_access_key = *secret;
      if (auto token = env("AWS_SESSION_TOKEN"); token && !token->empty()) c.session_token = *token;
      else if (auto old = env("AWS_SECURITY_TOKEN"); old && !old->empty()) c.session_token = *old;
      c.source = "environment";
      return c;
    }
  }
  bool named = profile.explicit_option || env("AWS_PROFILE").has_value();
  if (named && !profile.found)
    return Failure(credentials_error("the config profile " + util::quote(profile.name) + " could not be found in " +
                                     profile.config_path + " or " + profile.credentials_path));
  auto from_section = [&](const std::map<std::string, std::string>& section, const std::string& source) -> std::optional<Credentials> {
    auto key = section.find("aws_access_key_id"), secret = section.find("aws_secret_access_key");
    if (key == section.end() || secret == section.end()) return std::nullopt;
    Credentials c;
    c.access_key_id = key->second;
    c.secret_access_key = secret->second;
    if (auto token = section.find("aws_session_token"); token != section.end()) c.session_token = token->second;
    c.source = source;
    return c;
  };
  if (auto c = from_section(profile.credentials, "profile " + profile.name + " (" + profile.credentials_path + ")")) return *c;
  if (auto process = profile.config.find("credential_process"); process != profile.config.end())
    return process_credentials(process->second, profile.name);
  if (auto c = from_section(profile.config, "profile " + profile.name + " (" + profile.config_path + ")")) return *c;
  if (auto endpoint = imds_endpoint(env)) {
    auto c = imds_credentials(transport, *endpoint);
    if (c) return c;
    return Failure(credentials_error("no AWS credentials: none in the environment, none for profile " +
                                     util::quote(profile.name) + ", and " + c.error().message));
  }
  return Failure(credentials_error("no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or configure profile " +
                                   util::quote(profile.name) + " (aws configure)"));
}

std::shared_ptr<CredentialsProvider> CredentialsProvider::fixed(Credentials credentials) {
  return std::make_shared<CredentialsProvider>([c = std::move(credentials)]() -> Result<Credentials> { return c; });
}

Result<Credentials> CredentialsProvider::get() {
  std::lock_guard lock(m_mutex);
  if (m_cached && !m_cached->expires_within(std::chrono::minutes(5), std::chrono::system_clock::now())) return *m_cached;
  auto fresh = m_resolver();
  if (!fresh) return fresh;
  m_cached = *fresh;
  return fresh;
}

void CredentialsProvider::invalidate() {
  std::lock_guard lock(m_mutex);
  m_cached.reset();
}

} // namespace spawn::aws
