#pragma once
// Encodings AWS requests need: RFC 3986 percent-encoding, base64, SHA-256/MD5 digests, ISO 8601 times, tokens.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace spawn::aws {

// Percent-encodes every byte except RFC 3986 unreserved characters (A-Z a-z 0-9 - _ . ~); keep_slash keeps '/'.
std::string uri_encode(std::string_view text, bool keep_slash = false);
// Decodes %XX escapes (and '+' as space when plus_is_space); malformed escapes are kept as they are.
std::string uri_decode(std::string_view text, bool plus_is_space = false);
// "k1=v1&k2=v2" with both sides uri_encode()d, in the given order.
std::string form_encode(const std::vector<std::pair<std::string, std::string>>& fields);
// Standard base64 with padding, and its inverse (nullopt on invalid input).
std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);
// Lower-case hex SHA-256 of bytes.
std::string sha256_hex(std::string_view bytes);
// SHA-256 of a stream fed piece by piece (a file as it is read or sent): hex() once, at the end.
class Sha256Stream {
public:
  Sha256Stream();
  ~Sha256Stream();
  Sha256Stream(const Sha256Stream&) = delete;
  Sha256Stream& operator=(const Sha256Stream&) = delete;
  void update(std::string_view bytes);
  // Lower-case hex of everything fed so far; ends the stream.
  std::string hex();

private:
  void* m_ctx;  // EVP_MD_CTX
};
// Base64 of the MD5 digest of bytes (S3's Content-MD5).
std::string md5_base64(std::string_view bytes);
// "2024-05-01T12:00:00Z" (UTC, whole seconds).
std::string format_iso8601(std::chrono::system_clock::time_point when);
// Parses "2024-05-01T12:00:00Z", "2024-05-01T12:00:00.000Z" and "+00:00" offsets; nullopt otherwise.
std::optional<std::chrono::system_clock::time_point> parse_iso8601(std::string_view text);
// A random RFC 4122 version-4 UUID, for ClientToken values when the caller gives none.
std::string random_uuid();

} // namespace spawn::aws
