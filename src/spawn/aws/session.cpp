#include "aws/session.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>
#include <pugixml.hpp>

#include "aws/encoding.hpp"
#include "util/strings.hpp"

namespace spawn::aws {

const char* to_string(Service service) {
  switch (service) {
  case Service::ec2: return "ec2";
  case Service::s3: return "s3";
  case Service::sts: return "sts";
  case Service::ssm: return "ssm";
  case Service::pricing: return "pricing";
  case Service::iam: return "iam";
  }
  return "?";
}

namespace {

// Where a URL's host ends; the path of an endpoint URL is kept as a prefix.
std::string strip_slash(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

bool dns_compatible_bucket(const std::string& bucket) {
  if (bucket.size() < 3 || bucket.size() > 63) return false;
  for (char c : bucket)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  return bucket.front() != '-' && bucket.back() != '-';
}

std::string find_text(const pugi::xml_node& root, const char* name) {
  // Case-insensitive search by local name: EC2 says RequestID, STS RequestId, S3 RequestId.
  std::string found;
  root.find_node([&](const pugi::xml_node& n) {
    if (util::iequals(n.name(), name) && n.first_child().type() == pugi::node_pcdata) {
      found = n.child_value();
      return true;
    }
    return false;
  });
  return found;
}

} // namespace

AwsError parse_error_response(const HttpResponse& response) {
  AwsError e;
  e.http_status = response.status;
  e.request_id = response.header("x-amzn-requestid");
  if (e.request_id.empty()) e.request_id = response.header("x-amz-request-id");
  const std::string& body = response.body;
  auto first = body.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && body[first] == '<') {
    pugi::xml_document doc;
    if (doc.load_buffer(body.data(), body.size())) {
      pugi::xml_node error = doc.find_node([](const pugi::xml_node& n) { return std::string_view(n.name()) == "Error"; });
      if (error) {
        e.code = error.child_value("Code");
        e.message = error.child_value("Message");
      }
      if (auto id = find_text(doc, "RequestId"); !id.empty()) e.request_id = id;
    }
  } else if (first != std::string::npos && body[first] == '{') {
    auto json = nlohmann::json::parse(body, nullptr, false);
    if (json.is_object()) {
      std::string type = json.value("__type", json.value("code", ""));
      if (auto hash = type.rfind('#'); hash != std::string::npos) type = type.substr(hash + 1);
      e.code = type;
      e.message = json.contains("message") && json["message"].is_string() ? json["message"].get<std::string>()
                                                                          : json.value("Message", "");
    }
  }
  if (e.code.empty()) {
    if (response.status == 404) e.code = "NotFound";
    else if (response.status == 403) e.code = "Forbidden";
    else if (response.status == 429) e.code = "TooManyRequestsException";
    else if (response.status == 503) e.code = "ServiceUnavailable";
  }
  if (is_throttling_code(e.code) || response.status == 429 || (response.status == 503 && e.code == "ServiceUnavailable") ||
      e.code == "SlowDown")
    e.kind = ErrorKind::throttling;
  if (e.message.empty()) e.message = "HTTP " + std::to_string(response.status);
  return e;
}

Result<std::shared_ptr<Session>> Session::create(SessionOptions options) {
  std::shared_ptr<Session> s(new Session(std::move(options)));
  auto& o = s->m_options;
  if (!o.transport) o.transport = make_curl_transport();
  if (!o.sleep) o.sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
  if (!o.random) {
    auto engine = std::make_shared<std::mt19937_64>(std::random_device{}());
    o.random = [engine] { return std::uniform_real_distribution<double>(0.0, 1.0)(*engine); };
  }
  s->m_profile = load_profile(o.environment, o.profile);
  if (o.region && !o.region->empty()) {
    s->m_region = *o.region;
  } else {
    auto region = resolve_region(o.environment, s->m_profile);
    if (!region) return Failure(region.error());
    s->m_region = *region;
  }
  if (o.credentials) {
    s->m_credentials = o.credentials;
  } else {
    auto env = o.environment;
    auto profile = s->m_profile;
    auto transport = o.transport;
    s->m_credentials = std::make_shared<CredentialsProvider>(
        [env, profile, transport]() { return resolve_credentials(env, profile, *transport); });
  }
  return s;
}

std::optional<std::string> Session::override_for(Service service) const {
  const auto& env = m_options.environment;
  if (auto ignore = env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"); ignore && util::iequals(*ignore, "true")) return std::nullopt;
  if (auto url = env(std::string("AWS_ENDPOINT_URL_") + util::to_upper(to_string(service))); url && !url->empty())
    return strip_slash(*url);
  if (auto url = env("AWS_ENDPOINT_URL"); url && !url->empty()) return strip_slash(*url);
  if (auto it = m_profile.config.find("endpoint_url"); it != m_profile.config.end() && !it->second.empty())
    return strip_slash(it->second);
  return std::nullopt;
}

bool Session::endpoint_overridden(Service service) const { return override_for(service).has_value(); }

std::string Session::endpoint(Service service, const std::optional<std::string>& region) const {
  if (auto url = override_for(service)) return *url;
  const std::string& r = region ? *region : m_region;
  std::string suffix = r.starts_with("cn-") ? ".amazonaws.com.cn" : ".amazonaws.com";
  switch (service) {
  case Service::pricing: return "https://api.pricing." + r + suffix;
  case Service::iam: return r.starts_with("cn-") ? "https://iam.cn-north-1.amazonaws.com.cn" : "https://iam.amazonaws.com";
  default: return std::string("https://") + to_string(service) + "." + r + suffix;
  }
}

void Session::log(std::string_view line) const {
  if (m_options.log) m_options.log(line);
}

std::chrono::milliseconds Session::backoff(int attempt) {
  const auto& p = m_options.retry;
  double ceiling = std::min(static_cast<double>(p.cap.count()), static_cast<double>(p.base.count()) * std::pow(2.0, attempt));
  double r;
  {
    std::lock_guard lock(m_random_mutex);
    r = m_options.random();
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(r * ceiling));
}

Result<HttpResponse> Session::send(ServiceRequest request) {
  const char* service = to_string(request.service);
  std::string signing_region = request.signing_region ? *request.signing_region : m_region;
  auto base_error = [&] {
    AwsError e;
    e.service = service;
    e.operation = request.operation;
    e.region = signing_region;
    return e;
  };

  std::string base = endpoint(request.service, request.signing_region);
  std::string path = request.path;
  if (!request.bucket.empty()) {
    if (request.service == Service::s3 && !endpoint_overridden(Service::s3) && dns_compatible_bucket(request.bucket)) {
      auto scheme = base.find("://") + 3;
      base.insert(scheme, request.bucket + ".");
    } else {
      path = "/" + uri_encode(request.bucket) + (path == "/" ? std::string() : path);
    }
  }
  if (!(base.starts_with("http://") || base.starts_with("https://"))) {
    AwsError e = base_error();
    e.kind = ErrorKind::config;
    e.message = "endpoint URL " + util::quote(base) + " must start with http:// or https://";
    return Failure(e);
  }

  HttpRequest http;
  http.method = request.method;
  http.url = base + path + (request.query.empty() ? std::string() : "?" + request.query);
  // S3 signs the payload's hash: computed once for every attempt, before the body moves into the exchange.
  const std::string payload_sha256 = request.service == Service::s3 ? sha256_hex(request.body) : std::string();
  http.body = std::move(request.body);
  http.cancel = request.cancel;
  auto cancelled = [&] { return request.cancel && request.cancel->load(); };
  if (request.timeout) http.timeout = *request.timeout;
  http.sink = request.sink;
  if (request.sink && !request.timeout) http.timeout = std::chrono::milliseconds(0);

  auto cancel_error = [&](int attempts) {
    AwsError e = base_error();
    e.kind = ErrorKind::local;
    e.attempts = attempts;
    e.message = "cancelled";
    return Failure(e);
  };
  int attempt = 0;
  while (true) {
    ++attempt;
    if (cancelled()) return cancel_error(attempt - 1);
    auto credentials = m_credentials->get();
    if (!credentials) {
      AwsError e = credentials.error();
      e.service = service;
      e.operation = request.operation;
      e.region = signing_region;
      return Failure(e);
    }
    http.headers = request.headers;
    http.headers.emplace_back("User-Agent", "spawn");
    if (request.service == Service::s3) http.headers.emplace_back("x-amz-content-sha256", payload_sha256);
    if (!credentials->session_token.empty()) http.headers.emplace_back("X-Amz-Security-Token", credentials->session_token);
    http.signing = Signing{signing_region, service, *credentials};

    AwsError e = base_error();
    e.attempts = attempt;
    if (request.sink) {
      if (auto restarted = request.sink->restart(); !restarted) {
        e.kind = ErrorKind::local;
        e.message = restarted.error();
        return Failure(e);
      }
    }
    auto response = m_options.transport->send(http);
    if (response && request.sink && response->status >= 200 && response->status < 300 && !response->body.empty()) {
      // A transport that does not stream (a test's) leaves the body in the response.
      auto w = request.sink->write(response->body);
      response->body.clear();
      if (!w) response = tl::unexpected(w.error());
    }
    if (!response && request.sink && !request.sink->error().empty()) {
      e.kind = ErrorKind::local;  // writing it failed, not the network: another attempt would fail the same way
      e.message = request.sink->error();
      log(std::string(service) + " " + request.operation + " (" + signing_region + ") failed: " + e.to_string());
      return Failure(e);
    } else if (!response && cancelled()) {
      return cancel_error(attempt);
    } else if (!response) {
      e.kind = ErrorKind::network;
      e.message = response.error();
    } else if (response->status >= 200 && response->status < 300) {
      log(std::string(service) + " " + request.operation + " (" + signing_region + ") -> HTTP " +
          std::to_string(response->status) + " after " + std::to_string(attempt) + " attempt(s)");
      return std::move(*response);
    } else {
      AwsError parsed = parse_error_response(*response);
      parsed.service = e.service;
      parsed.operation = e.operation;
      parsed.region = e.region;
      parsed.attempts = attempt;
      e = parsed;
      if (e.code == "ExpiredToken" || e.code == "RequestExpired" || e.code == "ExpiredTokenException") {
        m_credentials->invalidate();
        if (attempt == 1) continue;
      }
    }
    if (!e.retryable() || attempt >= m_options.retry.max_attempts) {
      log(std::string(service) + " " + request.operation + " (" + signing_region + ") failed: " + e.to_string());
      return Failure(e);
    }
    auto delay = backoff(attempt - 1);
    log(std::string(service) + " " + request.operation + " (" + signing_region + ") attempt " + std::to_string(attempt) +
        ": " + (e.code.empty() ? e.message : e.code) + ", retrying in " + std::to_string(delay.count()) + " ms");
    if (!request.cancel) {
      m_options.sleep(delay);
      continue;
    }
    // A cancellable request waits in slices, so that cancelling it never waits out a long backoff.
    for (auto left = delay; left.count() > 0 && !cancelled(); left -= std::chrono::milliseconds(50))
      m_options.sleep(std::min(left, std::chrono::milliseconds(50)));
  }
}

} // namespace spawn::aws
