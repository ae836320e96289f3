#include "aws/http.hpp"

#include <cctype>
#include <mutex>

#include <curl/curl.h>

#include "util/strings.hpp"

namespace spawn::aws {

std::string Credentials::describe() const {
  std::string tail = access_key_id.size() > 4 ? access_key_id.substr(access_key_id.size() - 4) : access_key_id;
  return "access key ..." + tail + " from " + (source.empty() ? std::string("unknown source") : source);
}

bool Credentials::expires_within(std::chrono::seconds margin, std::chrono::system_clock::time_point now) const {
  return expiration && *expiration - margin <= now;
}

std::string HttpResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return v;
  return {};
}

namespace {

std::string host_of(const std::string& url) {
  auto start = url.find("://");
  start = start == std::string::npos ? 0 : start + 3;
  auto end = url.find('/', start);
  return url.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

// Where a body goes: a 2xx body to the request's sink when it has one, everything else to the response.
struct BodyTarget {
  CURL* handle;
  BodySink* sink;
  std::string* body;
};

size_t write_body(char* data, size_t size, size_t count, void* user) {
  auto* target = static_cast<BodyTarget*>(user);
  if (target->sink) {
    long status = 0;
    curl_easy_getinfo(target->handle, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300)
      return target->sink->write(std::string_view(data, size * count)) ? size * count : 0;  // 0: curl stops
  }
  target->body->append(data, size * count);
  return size * count;
}

size_t write_header(char* data, size_t size, size_t count, void* user) {
  auto* headers = static_cast<Headers*>(user);
  std::string_view line(data, size * count);
  auto colon = line.find(':');
  if (line.starts_with("HTTP/")) headers->clear();  // a new response (after 100-continue or a redirect)
  else if (colon != std::string_view::npos)
    headers->emplace_back(util::to_lower(util::trim(line.substr(0, colon))), std::string(util::trim(line.substr(colon + 1))));
  return size * count;
}

// Progress callback of a cancellable exchange: non-zero stops curl (CURLE_ABORTED_BY_CALLBACK).
int check_cancel(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const std::atomic<bool>*>(user)->load() ? 1 : 0;
}

class CurlTransport final : public Transport {
public:
  CurlTransport() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  }
  ~CurlTransport() override {
    for (CURL* handle : m_idle) curl_easy_cleanup(handle);
  }

  Expected<HttpResponse> send(const HttpRequest& request) override {
    CURL* handle = acquire();
    auto result = perform(handle, request);
    release(handle);
    return result;
  }

private:
  CURL* acquire() {
    std::lock_guard lock(m_mutex);
    if (m_idle.empty()) return curl_easy_init();
    CURL* handle = m_idle.back();
    m_idle.pop_back();
    return handle;
  }
  void release(CURL* handle) {
    curl_easy_reset(handle);  // drops credentials and headers; keeps the connection cache
    std::lock_guard lock(m_mutex);
    m_idle.push_back(handle);
  }

  Expected<HttpResponse> perform(CURL* h, const HttpRequest& request) {
    HttpResponse response;
    char error_buffer[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(h, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
    if (request.timeout.count() == 0) {  // a transfer of any size: given up only when it stalls
      curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
      curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, static_cast<long>(request.stall_timeout.count()));
    }
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(request.connect_timeout.count()));
    if (request.cancel) {  // curl calls it at least once a second, and as data moves
      curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
      curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, check_cancel);
      curl_easy_setopt(h, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(request.cancel));
    }
    BodyTarget target{h, request.sink, &response.body};
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &target);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, write_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &response.headers);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");  // a body AWS may compress is decoded

    if (request.method == "HEAD") {
      curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (request.method == "GET") {
      curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else {
      // POSTFIELDS for every method with a body: curl's SigV4 hashes exactly these bytes.
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.data());
      if (request.method != "POST") curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }

    curl_slist* headers = nullptr;
    bool has_content_type = false;
    for (const auto& [name, value] : request.headers) {
      if (util::iequals(name, "content-type")) has_content_type = true;
      headers = curl_slist_append(headers, (name + ": " + value).c_str());
    }
    // curl would otherwise add "Content-Type: application/x-www-form-urlencoded" to every body and an
    // "Expect: 100-continue" to large ones; neither is wanted unsigned.
    if (!has_content_type && request.method != "GET" && request.method != "HEAD")
      headers = curl_slist_append(headers, "Content-Type:");
    headers = curl_slist_append(headers, "Expect:");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);

    std::string sigv4;
    if (request.signing) {
      sigv4 = "aws:amz:" + request.signing->region + ":" + request.signing->service;
      curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4.c_str());
      curl_easy_setopt(h, CURLOPT_USERNAME, request.signing->credentials.access_key_id.c_str());
      curl_easy_setopt(h, CURLOPT_PASSWORD, request.signing->credentials.secret_access_key.c_str());
    }
    CURLcode code = curl_easy_perform(h);
    curl_slist_free_all(headers);
    if (code != CURLE_OK) {
      // error_buffer names hosts and reasons only; curl never puts the password in it.
      std::string reason = error_buffer[0] ? error_buffer : curl_easy_strerror(code);
      if (code == CURLE_WRITE_ERROR && request.sink && !request.sink->error().empty()) return tl::unexpected(request.sink->error());
      if (code == CURLE_ABORTED_BY_CALLBACK) return tl::unexpected(std::string("cancelled"));
      return tl::unexpected("cannot reach " + host_of(request.url) + ": " + reason);
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
    return response;
  }

  std::mutex m_mutex;
  std::vector<CURL*> m_idle;
};

} // namespace

std::shared_ptr<Transport> make_curl_transport() { return std::make_shared<CurlTransport>(); }

} // namespace spawn::aws
