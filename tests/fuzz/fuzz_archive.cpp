// libFuzzer target for the reader of the archives a task sends back from EC2 (providers/aws/archive): any bytes,
// as a tar stream, gzip'd and cut into two pieces at a point the input chooses, must be read to the end or refused
// with an error, never a crash, a hang, a leak or UB. The small buffer makes every header and member straddle chunks.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>
#include <zlib.h>

#include "providers/aws/archive.hpp"

namespace fs = std::filesystem;

namespace {

std::string gzip(const std::uint8_t* data, std::size_t size) {
  z_stream z{};
  deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);  // 15 + 16: a gzip header, as tar -z writes
  std::string out(deflateBound(&z, size) + 32, '\0');
  z.next_in = const_cast<Bytef*>(data);
  z.avail_in = static_cast<uInt>(size);
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(out.size() - z.avail_out);
  deflateEnd(&z);
  return out;
}

void write(const fs::path& path, std::string_view bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// The two pieces' directory, under $TMPDIR (scripts/test.sh points it into its own scratch directory).
const fs::path& pieces_dir() {
  static const fs::path dir = [] {
    auto d = fs::temp_directory_path() / ("spawn-fuzz-archive-" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
  }();
  return dir;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const fs::path& dir = pieces_dir();
  if (size < 1) return 0;
  const std::string packed = gzip(data + 1, size - 1);
  const std::size_t cut = packed.size() * data[0] / 255;  // the first byte: where the archive is split in two
  write(dir / "a.000", std::string_view(packed).substr(0, cut));
  write(dir / "a.001", std::string_view(packed).substr(cut));
  std::uint64_t seen = 0;
  auto result = spawn::providers::aws::read_tar_gz(
      spawn::providers::aws::files_in_order({dir / "a.000", dir / "a.001"}),
      [&](const spawn::providers::aws::TarEntry& entry, spawn::providers::aws::TarContent& content) {
        seen += entry.path.size();
        if (entry.path.size() % 2) return;  // leaves some members unread: the reader must skip them
        for (auto chunk = content.read(); chunk && !chunk->empty(); chunk = content.read()) seen += chunk->size();
      },
      4096);
  (void)result;
  (void)seen;
  return 0;
}
