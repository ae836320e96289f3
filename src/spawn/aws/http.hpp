#pragma once
// One HTTP exchange and the transport that carries it. The production transport is libcurl, which also signs
// requests with SigV4 (CURLOPT_AWS_SIGV4); tests replace the transport to capture requests without sending them.
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "aws/credentials.hpp"
#include "util/error.hpp"

namespace spawn::aws {

using Headers = std::vector<std::pair<std::string, std::string>>;

// How to sign: SigV4 with these credentials for this region and signing service name ("ec2", "s3", ...).
struct Signing {
  std::string region;
  std::string service;
  Credentials credentials;
};

// Where a successful (2xx) answer's body goes instead of HttpResponse::body, in chunks as it arrives (a download
// larger than memory). An error answer's body still goes to HttpResponse::body, to be parsed as always.
class BodySink {
public:
  virtual ~BodySink() = default;
  // Before each attempt: forget what an earlier attempt wrote (a retried download starts over).
  virtual Expected<void> restart() = 0;
  // One chunk of the body; an error stops the transfer and is kept for error().
  virtual Expected<void> write(std::string_view chunk) = 0;
  // Why the last write failed (a full disk), or empty.
  virtual std::string error() const = 0;
};

struct HttpRequest {
  std::string method = "GET";  // GET, HEAD, PUT, POST, DELETE
  std::string url;             // full URL, query already canonical (sorted, RFC 3986 encoded)
  Headers headers;             // sent and signed; never logged (may hold a session token)
  std::string body;
  std::optional<Signing> signing;  // nullopt: unsigned (IMDS)
  std::chrono::milliseconds timeout{30'000};  // 0: no limit on the whole exchange, only on a stall (below)
  std::chrono::seconds stall_timeout{60};      // with timeout 0: abandoned after this long below 1 KiB/s
  BodySink* sink = nullptr;                    // a 2xx body goes there (the transport may also leave it in body)
  std::chrono::milliseconds connect_timeout{5'000};
  const std::atomic<bool>* cancel = nullptr;   // when it turns true the exchange is abandoned (an error) promptly
};

struct HttpResponse {
  long status = 0;
  Headers headers;  // names lower-cased
  std::string body;
  // The first header named name (lower case), or empty.
  std::string header(std::string_view name) const;
};

// Sends requests. An Expected error means no HTTP answer arrived (connect, TLS, timeout); its text names the URL's
// host and the reason and never holds credentials.
class Transport {
public:
  virtual ~Transport() = default;
  virtual Expected<HttpResponse> send(const HttpRequest& request) = 0;
};

// The libcurl transport: reuses connections, safe to call from several threads.
std::shared_ptr<Transport> make_curl_transport();

} // namespace spawn::aws
