#include "providers/aws/archive.hpp"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <vector>

#include <zlib.h>

#include "util/strings.hpp"

namespace spawn::providers::aws {

namespace fs = std::filesystem;

namespace {

// The archive's pieces, inflated: pull() hands out views into one output buffer.
class GzipStream {
public:
  GzipStream(const PieceSource& pieces, std::size_t buffer_bytes)
      : m_pieces(pieces), m_in(buffer_bytes), m_out(buffer_bytes) {
    m_ready = inflateInit2(&m_z, 15 + 32) == Z_OK;  // 32: a gzip header expected
  }
  ~GzipStream() {
    if (m_ready) inflateEnd(&m_z);
  }
  GzipStream(const GzipStream&) = delete;
  GzipStream& operator=(const GzipStream&) = delete;

  std::uint64_t position() const { return m_position; }

  // Up to max inflated bytes; empty at the stream's clean end.
  Expected<std::string_view> pull(std::size_t max) {
    if (!m_ready) return Unexpected("gzip: cannot initialise zlib");
    while (m_out_at == m_out_end) {
      if (m_finished) return std::string_view();
      if (auto more = inflate_more(); !more) return Unexpected(more.error());
    }
    std::size_t n = std::min(max, m_out_end - m_out_at);
    std::string_view view(m_out.data() + m_out_at, n);
    m_out_at += n;
    m_position += n;
    return view;
  }

private:
  // Reads more input from the current piece, then the next; false when none is left.
  Expected<bool> refill() {
    while (true) {
      if (m_file.is_open()) {
        m_file.read(m_in.data(), static_cast<std::streamsize>(m_in.size()));
        auto got = static_cast<std::size_t>(m_file.gcount());
        if (m_file.bad()) return Unexpected(m_piece.string() + ": read error");
        if (got > 0) {
          m_z.next_in = reinterpret_cast<Bytef*>(m_in.data());
          m_z.avail_in = static_cast<uInt>(got);
          return true;
        }
        m_file.close();
      }
      auto next = m_pieces();
      if (!next) return Unexpected(next.error());
      if (!*next) return false;
      m_piece = **next;
      m_file.open(m_piece, std::ios::binary);
      if (!m_file) return Unexpected(m_piece.string() + ": cannot open: " + std::strerror(errno));
    }
  }

  Expected<void> inflate_more() {
    m_out_at = m_out_end = 0;
    while (m_out_end == 0) {
      if (m_z.avail_in == 0) {
        auto more = refill();
        if (!more) return Unexpected(more.error());
        if (!*more) {
          if (m_between_members) {
            m_finished = true;
            return {};
          }
          return Unexpected("the archive ends early (truncated)");
        }
      }
      if (m_between_members) {  // another gzip member follows (gzip allows several in a row)
        inflateReset(&m_z);
        m_between_members = false;
      }
      m_z.next_out = reinterpret_cast<Bytef*>(m_out.data());
      m_z.avail_out = static_cast<uInt>(m_out.size());
      int rc = inflate(&m_z, Z_NO_FLUSH);
      m_out_end = m_out.size() - m_z.avail_out;
      if (rc == Z_STREAM_END) {
        m_between_members = true;
      } else if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT) {
        return Unexpected(m_position == 0 && m_out_end == 0 ? std::string("not a gzip stream")
                                                            : "corrupt gzip data (" + std::string(m_z.msg ? m_z.msg : "?") + ")");
      } else if (rc == Z_MEM_ERROR) {
        return Unexpected("gzip: out of memory");
      }
    }
    return {};
  }

  const PieceSource& m_pieces;
  std::vector<char> m_in, m_out;
  std::ifstream m_file;
  fs::path m_piece;
  z_stream m_z{};
  bool m_ready = false, m_between_members = false, m_finished = false;
  std::size_t m_out_at = 0, m_out_end = 0;
  std::uint64_t m_position = 0;  // inflated bytes handed out
};

// A tar number: octal digits (spaces and NULs around them), or GNU's base-256 (the first byte's top bit set).
std::uint64_t tar_number(std::string_view field) {
  std::uint64_t n = 0;
  if (!field.empty() && (static_cast<unsigned char>(field[0]) & 0x80)) {
    n = static_cast<unsigned char>(field[0]) & 0x7f;
    for (char c : field.substr(1)) n = (n << 8) | static_cast<unsigned char>(c);
    return n;
  }
  for (char c : field) {
    if (c >= '0' && c <= '7') n = n * 8 + static_cast<std::uint64_t>(c - '0');
    else if (c != ' ' && n) break;
  }
  return n;
}

std::string tar_string(std::string_view field) { return std::string(field.substr(0, field.find('\0'))); }

// The header's checksum: its bytes summed with the checksum field read as spaces.
bool checksum_ok(std::string_view h) {
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < 512; ++i) sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(h[i]);
  return sum == tar_number(h.substr(148, 8));
}

class MemberContent final : public TarContent {
public:
  MemberContent(GzipStream& gz, std::optional<std::string>& error, std::uint64_t size)
      : m_gz(gz), m_error(error), m_left(size) {}
  Expected<std::string_view> read() override {
    if (m_error) return Unexpected(*m_error);
    if (m_left == 0) return std::string_view();
    auto chunk = m_gz.pull(static_cast<std::size_t>(std::min<std::uint64_t>(m_left, SIZE_MAX)));
    if (chunk && chunk->empty()) chunk = Unexpected(std::string("the archive ends early (truncated)"));
    if (!chunk) {
      m_error = chunk.error();
      return Unexpected(*m_error);
    }
    m_left -= chunk->size();
    return *chunk;
  }
  std::uint64_t left() const { return m_left; }

private:
  GzipStream& m_gz;
  std::optional<std::string>& m_error;
  std::uint64_t m_left;
};

// Exactly n bytes into out (a header, a padding, a small extended header).
Expected<void> read_exact(GzipStream& gz, char* out, std::size_t n) {
  while (n > 0) {
    auto chunk = gz.pull(n);
    if (!chunk) return Unexpected(chunk.error());
    if (chunk->empty()) return Unexpected("the archive ends early (truncated)");
    std::memcpy(out, chunk->data(), chunk->size());
    out += chunk->size();
    n -= chunk->size();
  }
  return {};
}

Expected<void> skip(GzipStream& gz, std::uint64_t n) {
  while (n > 0) {
    auto chunk = gz.pull(static_cast<std::size_t>(std::min<std::uint64_t>(n, SIZE_MAX)));
    if (!chunk) return Unexpected(chunk.error());
    if (chunk->empty()) return Unexpected("the archive ends early (truncated)");
    n -= chunk->size();
  }
  return {};
}

constexpr std::uint64_t k_max_extended_header = 1 << 20;  // a long name or pax record set: small

} // namespace

PieceSource files_in_order(std::vector<fs::path> paths) {
  auto at = std::make_shared<std::size_t>(0);
  return [paths = std::move(paths), at]() -> Expected<std::optional<fs::path>> {
    if (*at >= paths.size()) return std::optional<fs::path>();
    return std::optional<fs::path>(paths[(*at)++]);
  };
}

Expected<void> read_tar_gz(const PieceSource& pieces, const std::function<void(const TarEntry&, TarContent&)>& visit,
                           std::size_t buffer_bytes) {
  GzipStream gz(pieces, std::max<std::size_t>(buffer_bytes, 512));
  std::optional<std::string> long_name, long_link;
  std::map<std::string, std::string, std::less<>> pax;  // the next member's pax records (path, size)
  std::optional<std::string> error;  // what a member's reader met
  char header[512];
  while (true) {
    const std::uint64_t at = gz.position();
    if (auto r = read_exact(gz, header, 512); !r) return Unexpected(r.error());
    std::string_view h(header, 512);
    if (h.find_first_not_of('\0') == std::string_view::npos) {
      // The end blocks; what follows (the rest of the record) is read so the gzip trailer's check is made.
      while (true) {
        auto rest = gz.pull(buffer_bytes);
        if (!rest) return Unexpected(rest.error());
        if (rest->empty()) return {};
      }
    }
    if (!checksum_ok(h)) return Unexpected("a corrupt tar header at byte " + std::to_string(at));
    const char type = h[156];
    const bool extended = type == 'L' || type == 'K' || type == 'x' || type == 'g';
    std::uint64_t size = tar_number(h.substr(124, 12));
    if (auto it = pax.find("size"); it != pax.end() && !extended)  // pax records describe the member after them
      if (auto n = util::parse_uint(it->second)) size = *n;
    const std::uint64_t padding = (512 - size % 512) % 512;
    if (extended) {
      if (size > k_max_extended_header)
        return Unexpected("an extended tar header of " + std::to_string(size) + " bytes at byte " + std::to_string(at));
      std::string body(size, '\0');
      if (auto r = read_exact(gz, body.data(), size); !r) return Unexpected(r.error());
      if (auto r = skip(gz, padding); !r) return Unexpected(r.error());
      if (type == 'L') long_name = tar_string(body);
      if (type == 'K') long_link = tar_string(body);
      if (type == 'x') {  // pax: "LEN KEY=VALUE\n" records
        for (std::size_t p = 0; p < body.size();) {
          auto sp = body.find(' ', p);
          if (sp == std::string::npos) break;
          auto len = util::parse_uint(std::string_view(body).substr(p, sp - p));
          if (!len || *len <= sp - p + 1 || p + *len > body.size()) break;
          std::string_view record(body.data() + sp + 1, *len - (sp - p) - 2);
          if (auto eq = record.find('='); eq != std::string_view::npos)
            pax[std::string(record.substr(0, eq))] = std::string(record.substr(eq + 1));
          p += *len;
        }
      }
      continue;
    }
    TarEntry e;
    if (auto it = pax.find("path"); it != pax.end()) {
      e.path = it->second;
    } else if (long_name) {
      e.path = *long_name;
    } else {
      std::string prefix = h.substr(257, 5) == "ustar" ? tar_string(h.substr(345, 155)) : "";
      e.path = (prefix.empty() ? "" : prefix + "/") + tar_string(h.substr(0, 100));
    }
    if (auto it = pax.find("linkpath"); it != pax.end()) {
      e.link = it->second;
    } else if (long_link) {
      e.link = *long_link;
    } else {
      e.link = tar_string(h.substr(157, 100));
    }
    long_name.reset();
    long_link.reset();
    pax.clear();
    e.type = type == '\0' || type == '7' ? '0' : type;
    e.mode = static_cast<std::uint32_t>(tar_number(h.substr(100, 8)) & 07777);
    e.mtime = static_cast<std::int64_t>(tar_number(h.substr(136, 12)));
    e.size = e.type == '0' ? size : 0;
    MemberContent content(gz, error, e.type == '0' ? size : 0);
    if (e.type == '0' || e.type == '5' || e.type == '2') visit(e, content);
    if (error) return Unexpected(*error);
    if (auto r = skip(gz, (e.type == '0' ? content.left() : size) + padding); !r) return Unexpected(r.error());
  }
}

} // namespace spawn::providers::aws
