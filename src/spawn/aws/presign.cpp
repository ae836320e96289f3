#include "aws/presign.hpp"

#include <algorithm>
#include <ctime>
#include <map>

#include <openssl/hmac.h>

#include "aws/encoding.hpp"

namespace spawn::aws {

namespace {

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out, &size);
  return std::string(reinterpret_cast<const char*>(out), size);
}

std::string hex(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::string utc(std::chrono::system_clock::time_point when, const char* format) {
  std::time_t t = std::chrono::system_clock::to_time_t(when);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

bool dns_compatible(const std::string& bucket) {
  if (bucket.size() < 3 || bucket.size() > 63) return false;
  for (char c : bucket)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  return bucket.front() != '-' && bucket.back() != '-';
}

} // namespace

Result<std::string> presign_s3(Session& session, const std::string& method, const std::string& bucket,
                               const std::string& key, std::chrono::seconds validity,
                               std::chrono::system_clock::time_point now) {
  auto credentials = session.credentials();
  if (!credentials) return Failure(credentials.error());
  validity = std::clamp(validity, std::chrono::seconds(1), k_max_presign_validity);

  // Split the endpoint into scheme://host and a path prefix; address the bucket as Session::send does.
  std::string base = session.endpoint(Service::s3);
  while (!base.empty() && base.back() == '/') base.pop_back();
  auto scheme_end = base.find("://");
  if (scheme_end == std::string::npos) {
    AwsError e;
    e.kind = ErrorKind::config;
    e.service = "s3";
    e.operation = "presign";
    e.region = session.region();
    e.message = "endpoint URL \"" + base + "\" must start with http:// or https://";
    return Failure(e);
  }
  auto host_end = base.find('/', scheme_end + 3);
  std::string origin = base.substr(0, host_end);
  std::string prefix = host_end == std::string::npos ? "" : base.substr(host_end);
  std::string path = prefix + "/" + uri_encode(key, true);
  if (!session.endpoint_overridden(Service::s3) && dns_compatible(bucket)) {
    origin.insert(scheme_end + 3, bucket + ".");
  } else {
    path = prefix + "/" + uri_encode(bucket) + "/" + uri_encode(key, true);
  }
  std::string host = origin.substr(scheme_end + 3);

  const std::string date = utc(now, "%Y%m%dT%H%M%SZ");
  const std::string day = date.substr(0, 8);
  const std::string scope = day + "/" + session.region() + "/s3/aws4_request";
  std::map<std::string, std::string> query = {
      {"X-Amz-Algorithm", "AWS4-HMAC-SHA256"},
      {"X-Amz-Credential", credentials->access_key_id + "/" + scope},
      {"X-Amz-Date", date},
      {"X-Amz-Expires", std::to_string(validity.count())},
      {"X-Amz-SignedHeaders", "host"},
  };
  // Temporary credentials: the token is part of the URL (it is what makes the key usable, and expires with it).
  if (!credentials->session_token.empty()) query["X-Amz-Security-Token"] = credentials->session_token;
  std::string canonical_query;
  for (const auto& [k, v] : query) canonical_query += (canonical_query.empty() ? "" : "&") + uri_encode(k) + "=" + uri_encode(v);
  std::string canonical_request =
      method + "\n" + path + "\n" + canonical_query + "\nhost:" + host + "\n\nhost\nUNSIGNED-PAYLOAD";
  std::string to_sign = "AWS4-HMAC-SHA256\n" + date + "\n" + scope + "\n" + sha256_hex(canonical_request);
  std::string k = hmac_sha256("AWS4" + credentials->secret_access_key, day);
  k = hmac_sha256(k, session.region());
  k = hmac_sha256(k, "s3");
  k = hmac_sha256(k, "aws4_request");
  std::string signature = hex(hmac_sha256(k, to_sign));
  return origin + path + "?" + canonical_query + "&X-Amz-Signature=" + signature;
}

} // namespace spawn::aws
