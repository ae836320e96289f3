#pragma once
// Reading the gzip'd tar archives a task sends back (`tar -cz --format=gnu`, possibly split into pieces) as a
// stream: gzip inflated in chunks, tar headers parsed as they come (ustar prefixes, GNU 'L' long names, base-256
// numbers, pax 'x' path and size records), each member's content handed out in chunks. Memory is bounded by the
// buffer size whatever the archive's or a member's size.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"

namespace spawn::providers::aws {

// One member of an archive: files, directories and symbolic links (hard links, devices and the like are skipped).
struct TarEntry {
  std::string path;  // as the archive names it ("results/0.txt", "results/" for a directory)
  char type = '0';   // '0' file, '5' directory, '2' symbolic link
  std::string link;  // a link's target, as written
  std::uint32_t mode = 0644;
  std::int64_t mtime = 0;  // seconds since the epoch
  std::uint64_t size = 0;
};

// A file member's content, in order.
class TarContent {
public:
  virtual ~TarContent() = default;
  // The next chunk (at most the buffer size); empty at the member's end. An error (a truncated or corrupt
  // archive) also ends the whole read: read_tar_gz returns it.
  virtual Expected<std::string_view> read() = 0;
};

// Where the archive's bytes come from: the next piece's path each time it is called (the pieces are one stream,
// in order), nullopt after the last, or an error (a piece that could not be fetched) that ends the read.
using PieceSource = std::function<Expected<std::optional<std::filesystem::path>>()>;

// Calls visit for each file and directory member in order; what visit leaves unread of a file is skipped. An
// error says what is wrong with the archive ("not a gzip stream", "the archive ends early (truncated)", "a corrupt
// tar header at byte N"); members visited before it stay visited.
Expected<void> read_tar_gz(const PieceSource& pieces, const std::function<void(const TarEntry&, TarContent&)>& visit,
                           std::size_t buffer_bytes = 1 << 20);

// The pieces are these files, in order.
PieceSource files_in_order(std::vector<std::filesystem::path> paths);

} // namespace spawn::providers::aws
