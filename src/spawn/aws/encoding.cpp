#include "aws/encoding.hpp"

#include <cctype>
#include <cstdio>
#include <ctime>
#include <random>

#include <openssl/evp.h>

namespace spawn::aws {

namespace {
constexpr char k_hex[] = "0123456789ABCDEF";
constexpr char k_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

bool unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.' || c == '~';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string digest(const EVP_MD* md, std::string_view bytes) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(bytes.data(), bytes.size(), out, &size, md, nullptr);
  return std::string(reinterpret_cast<const char*>(out), size);
}
} // namespace

std::string uri_encode(std::string_view text, bool keep_slash) {
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (unreserved(c) || (keep_slash && c == '/')) {
      out += ch;
    } else {
      out += '%';
      out += k_hex[c >> 4];
      out += k_hex[c & 15];
    }
  }
  return out;
}

std::string uri_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      int hi = hex_value(text[i + 1]), lo = hex_value(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += (plus_is_space && text[i] == '+') ? ' ' : text[i];
  }
  return out;
}

std::string form_encode(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [key, value] : fields) {
    if (!out.empty()) out += '&';
    out += uri_encode(key);
    out += '=';
    out += uri_encode(value);
  }
  return out;
}

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    auto n = (static_cast<unsigned char>(bytes[i]) << 16) | (static_cast<unsigned char>(bytes[i + 1]) << 8) |
             static_cast<unsigned char>(bytes[i + 2]);
    out += k_b64[(n >> 18) & 63];
    out += k_b64[(n >> 12) & 63];
    out += k_b64[(n >> 6) & 63];
    out += k_b64[n & 63];
  }
  if (i < bytes.size()) {
    unsigned n = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) n |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += k_b64[(n >> 18) & 63];
    out += k_b64[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? k_b64[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  std::size_t padding = 0;
  for (char c : text) {
    if (c == '\n' || c == '\r') continue;
    if (c == '=') {
      ++padding;
      continue;
    }
    if (padding) return std::nullopt;
    const char* p = nullptr;
    for (const char* q = k_b64; *q; ++q)
      if (*q == c) p = q;
    if (!p) return std::nullopt;
    buffer = (buffer << 6) | static_cast<unsigned>(p - k_b64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xFF);
    }
  }
  if (padding > 2) return std::nullopt;
  return out;
}

std::string sha256_hex(std::string_view bytes) {
  std::string raw = digest(EVP_sha256(), bytes);
  std::string out;
  for (char ch : raw) {
    auto c = static_cast<unsigned char>(ch);
    out += static_cast<char>(std::tolower(k_hex[c >> 4]));
    out += static_cast<char>(std::tolower(k_hex[c & 15]));
  }
  return out;
}

Sha256Stream::Sha256Stream() : m_ctx(EVP_MD_CTX_new()) { EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(m_ctx), EVP_sha256(), nullptr); }
Sha256Stream::~Sha256Stream() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(m_ctx)); }
void Sha256Stream::update(std::string_view bytes) { EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(m_ctx), bytes.data(), bytes.size()); }
std::string Sha256Stream::hex() {
  unsigned char raw[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(m_ctx), raw, &len);
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += static_cast<char>(std::tolower(k_hex[raw[i] >> 4]));
    out += static_cast<char>(std::tolower(k_hex[raw[i] & 15]));
  }
  return out;
}

std::string md5_base64(std::string_view bytes) { return base64_encode(digest(EVP_md5(), bytes)); }

std::string format_iso8601(std::chrono::system_clock::time_point when) {
  std::time_t t = std::chrono::system_clock::to_time_t(when);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

std::optional<std::chrono::system_clock::time_point> parse_iso8601(std::string_view text) {
  std::tm tm{};
  int consumed = 0;
  std::string copy(text);
  if (std::sscanf(copy.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &consumed) != 6)
    return std::nullopt;
  std::string_view rest = text.substr(static_cast<std::size_t>(consumed));
  if (!rest.empty() && rest.front() == '.') {
    rest.remove_prefix(1);
    while (!rest.empty() && rest.front() >= '0' && rest.front() <= '9') rest.remove_prefix(1);
  }
  long offset = 0;
  if (rest == "Z" || rest == "z" || rest.empty()) {
  } else if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':') {
    int h = 0, m = 0;
    if (std::sscanf(std::string(rest.substr(1)).c_str(), "%2d:%2d", &h, &m) != 2) return std::nullopt;
    offset = (h * 3600L + m * 60L) * (rest[0] == '+' ? 1 : -1);
  } else {
    return std::nullopt;
  }
  if (tm.tm_year > 2200) tm.tm_year = 2200;  // beyond what system_clock's nanoseconds can hold
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  std::time_t t = timegm(&tm);
  if (t == static_cast<std::time_t>(-1)) return std::nullopt;
  return std::chrono::system_clock::from_time_t(t - offset);
}

std::string random_uuid() {
  static thread_local std::mt19937_64 engine{std::random_device{}()};
  std::uniform_int_distribution<unsigned> byte(0, 255);
  unsigned char b[16];
  for (auto& x : b) x = static_cast<unsigned char>(byte(engine));
  b[6] = static_cast<unsigned char>((b[6] & 0x0F) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3F) | 0x80);
  std::string out;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += static_cast<char>(std::tolower(k_hex[b[i] >> 4]));
    out += static_cast<char>(std::tolower(k_hex[b[i] & 15]));
  }
  return out;
}

} // namespace spawn::aws
