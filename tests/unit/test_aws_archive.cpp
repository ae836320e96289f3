// The streaming reader of the archives tasks send back (providers/aws/archive.cpp) and the extraction into a
// directory (providers/aws/workdir.cpp extract_archive): archives made by GNU tar and by hand, read through a small
// buffer so every member is bigger than it.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sys/stat.h>

#include "providers/aws/archive.hpp"
#include "providers/aws/workdir.hpp"
#include "util/files.hpp"

using namespace spawn;
using namespace spawn::providers::aws;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t k_small_buffer = 4096;

struct Read {
  std::vector<TarEntry> entries;
  std::vector<std::string> contents;
  std::size_t largest_chunk = 0, chunks = 0;
  std::optional<std::string> error;
};

Read read_all(const std::vector<fs::path>& pieces, std::size_t buffer = k_small_buffer) {
  Read out;
  auto r = read_tar_gz(
      files_in_order(pieces),
      [&](const TarEntry& e, TarContent& content) {
        out.entries.push_back(e);
        std::string text;
        while (true) {
          auto chunk = content.read();
          if (!chunk || chunk->empty()) break;
          out.largest_chunk = std::max(out.largest_chunk, chunk->size());
          ++out.chunks;
          text += *chunk;
        }
        out.contents.push_back(text);
      },
      buffer);
  if (!r) out.error = r.error();
  return out;
}

// A ustar header block for name (at most 100 bytes) with size written in base-256 when base256.
std::string header(const std::string& name, char type, std::uint64_t size, bool base256 = false) {
  std::string h(512, '\0');
  h.replace(0, name.size(), name);
  h.replace(100, 7, "0000644");
  if (base256) {
    h[124] = static_cast<char>(0x80);
    for (int i = 0; i < 8; ++i) h[135 - i] = static_cast<char>((size >> (8 * i)) & 0xff);
  } else {
    char field[13];
    std::snprintf(field, sizeof field, "%011llo", static_cast<unsigned long long>(size));
    h.replace(124, 11, field);
  }
  h.replace(136, 11, "14000000000");
  h[156] = type;
  h.replace(257, 6, std::string("ustar\0", 6));
  h.replace(263, 2, "00");
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < 512; ++i) sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(h[i]);
  char field[8];
  std::snprintf(field, sizeof field, "%06llo", static_cast<unsigned long long>(sum));
  h.replace(148, 7, std::string(field, 6) + '\0');
  h[155] = ' ';
  return h;
}

std::string padded(std::string body) {
  body.resize((body.size() + 511) / 512 * 512, '\0');
  return body;
}

class AwsArchive : public ::testing::Test {
protected:
  void SetUp() override {
    char tmpl[] = "/tmp/spawn-archive-test-XXXXXX";
    ASSERT_TRUE(::mkdtemp(tmpl));
    root = tmpl;
  }
  void TearDown() override { fs::remove_all(root); }
  void write(const std::string& rel, const std::string& text) {
    fs::create_directories((root / rel).parent_path());
    std::ofstream(root / rel, std::ios::binary) << text;
  }
  void run(const std::string& cmd) { ASSERT_EQ(std::system(("cd " + root.string() + " && " + cmd).c_str()), 0) << cmd; }
  // Raw tar bytes, gzip'd into name.
  fs::path gzip(const std::string& tar, const std::string& name) {
    write(name, tar);
    run("gzip -n " + name);
    return root / (name + ".gz");
  }
  // Deterministic bytes that do not compress much.
  static std::string noise(std::size_t n) {
    std::string s(n, '\0');
    std::uint64_t x = 88172645463325252ull;
    for (auto& c : s) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      c = static_cast<char>(x);
    }
    return s;
  }
  fs::path root;
};

} // namespace

TEST_F(AwsArchive, GnuTarLongNamesModesAndTimesReadBack) {
  std::string long_name(120, 'n');
  write("src/" + long_name + ".txt", "long\n");
  write("src/results/0.txt", "zero\n");
  fs::permissions(root / "src/results/0.txt", fs::perms(0750));
  run("touch -m -d @1700000000 src/results/0.txt");
  run("cd src && tar -czf ../a.tar.gz --format=gnu results " + long_name + ".txt");
  auto r = read_all({root / "a.tar.gz"});
  ASSERT_FALSE(r.error) << *r.error;
  ASSERT_EQ(r.entries.size(), 3u);
  EXPECT_EQ(r.entries[0].path, "results/");
  EXPECT_EQ(r.entries[0].type, '5');
  EXPECT_EQ(r.entries[1].path, "results/0.txt");
  EXPECT_EQ(r.contents[1], "zero\n");
  EXPECT_EQ(r.entries[1].mode, 0750u);
  EXPECT_EQ(r.entries[1].mtime, 1700000000);
  EXPECT_EQ(r.entries[2].path, long_name + ".txt");  // a GNU 'L' long name
  EXPECT_EQ(r.contents[2], "long\n");
}

TEST_F(AwsArchive, PaxPathRecordsName) {
  std::string deep = "d/" + std::string(90, 'a') + "/" + std::string(90, 'b') + "/" + std::string(60, 'c') + ".txt";
  write("src/" + deep, "deep\n");
  run("cd src && tar -czf ../p.tar.gz --format=pax " + deep);
  auto r = read_all({root / "p.tar.gz"});
  ASSERT_FALSE(r.error) << *r.error;
  ASSERT_EQ(r.entries.size(), 1u);
  EXPECT_EQ(r.entries[0].path, deep);  // from the pax 'x' header's path record
  EXPECT_EQ(r.contents[0], "deep\n");
}

TEST_F(AwsArchive, AMemberManyTimesTheBufferComesInBoundedChunksAndPiecesAreOneStream) {
  const std::string big = noise(3 << 20);
  write("src/big.bin", big);
  write("src/after.txt", "after\n");
  run("cd src && tar -czf ../b.tar.gz --format=gnu big.bin after.txt && cd .. && split -a 3 -d -b 1000000 b.tar.gz b.tar.gz.");
  std::vector<fs::path> pieces;
  for (int i = 0; fs::exists(root / ("b.tar.gz.00" + std::to_string(i))); ++i) pieces.push_back(root / ("b.tar.gz.00" + std::to_string(i)));
  ASSERT_GE(pieces.size(), 3u);
  for (const auto& input : std::vector<std::vector<fs::path>>{{root / "b.tar.gz"}, pieces}) {
    auto r = read_all(input);
    ASSERT_FALSE(r.error) << *r.error;
    ASSERT_EQ(r.entries.size(), 2u);
    EXPECT_EQ(r.entries[0].size, big.size());
    EXPECT_TRUE(r.contents[0] == big);
    EXPECT_EQ(r.contents[1], "after\n");
    EXPECT_LE(r.largest_chunk, k_small_buffer);
    EXPECT_GE(r.chunks, big.size() / k_small_buffer);
  }
}

TEST_F(AwsArchive, TruncatedOrForeignInputIsAClearError) {
  write("src/one.txt", "one\n");
  write("src/two.bin", noise(200000));
  run("cd src && tar -czf ../t.tar.gz --format=gnu one.txt two.bin && head -c 60000 ../t.tar.gz > ../cut.tar.gz");
  auto cut = read_all({root / "cut.tar.gz"});
  ASSERT_TRUE(cut.error);
  EXPECT_EQ(*cut.error, "the archive ends early (truncated)");
  ASSERT_EQ(cut.entries.size(), 2u);  // what came before was read
  EXPECT_EQ(cut.contents[0], "one\n");
  // A missing last piece is the same truncation.
  run("split -a 3 -d -b 50000 t.tar.gz t.tar.gz.");
  auto first_only = read_all({root / "t.tar.gz.000"});
  ASSERT_TRUE(first_only.error);
  EXPECT_EQ(*first_only.error, "the archive ends early (truncated)");
  write("junk.tar.gz", "not gzip at all, just text");
  auto junk = read_all({root / "junk.tar.gz"});
  ASSERT_TRUE(junk.error);
  EXPECT_EQ(*junk.error, "not a gzip stream");
  // gzip'd, but not a tar.
  auto notar = read_all({gzip(std::string(1024, 'x'), "x.tar")});
  ASSERT_TRUE(notar.error);
  EXPECT_EQ(*notar.error, "a corrupt tar header at byte 0");
  // A piece that cannot be fetched ends the read with its reason.
  auto r = read_tar_gz([]() -> Expected<std::optional<fs::path>> { return Unexpected(std::string("piece 0: AccessDenied")); },
                       [](const TarEntry&, TarContent&) {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), "piece 0: AccessDenied");
}

TEST_F(AwsArchive, SizesBeyondOctalAreReadInBase256) {
  // GNU tar writes a member of 8 GiB or more with a base-256 size; here the content is cut short after 3 bytes.
  const std::uint64_t size = (8ull << 30) + 1;
  auto r = read_all({gzip(header("huge.bin", '0', size, true) + "abc", "h.tar")});
  ASSERT_EQ(r.entries.size(), 1u);
  EXPECT_EQ(r.entries[0].size, size);
  EXPECT_EQ(r.contents[0], "abc");
  ASSERT_TRUE(r.error);
  EXPECT_EQ(*r.error, "the archive ends early (truncated)");
}

TEST_F(AwsArchive, PaxSizeAndPathRecordsDescribeTheMemberAfterThem) {
  // How tar --format=pax writes a member whose size does not fit the header: a size record in the 'x' header.
  const std::string records = "9 size=5\n16 path=p/x.txt\n";
  std::string tar = header("PaxHeaders/x", 'x', records.size()) + padded(records) + header("x.txt", '0', 0) +
                    padded("hello") + header("after.txt", '0', 2) + padded("ok") + std::string(1024, '\0');
  auto r = read_all({gzip(tar, "pax.tar")});
  ASSERT_FALSE(r.error) << *r.error;
  ASSERT_EQ(r.entries.size(), 2u);
  EXPECT_EQ(r.entries[0].path, "p/x.txt");
  EXPECT_EQ(r.contents[0], "hello");
  EXPECT_EQ(r.entries[1].path, "after.txt");  // the records applied to one member only
  EXPECT_EQ(r.contents[1], "ok");
}

TEST_F(AwsArchive, ExtractionWritesAtomicallyAndRefusesPathsLeadingOutside) {
  fs::create_directories(root / "dest");
  fs::create_directories(root / "elsewhere");
  fs::create_directory_symlink(root / "elsewhere", root / "dest/linked");
  const std::string big = noise(100000);
  std::string tar = header("../escape.txt", '0', 4) + padded("evil") + header("/etc/abs.txt", '0', 4) + padded("evil") +
                    header("linked/through.txt", '0', 4) + padded("evil") + header("ok/", '5', 0) +
                    header("ok/big.bin", '0', big.size()) + padded(big) + std::string(1024, '\0');
  auto problems = extract_archive(files_in_order({gzip(tar, "e.tar")}), (root / "dest").string(), "s3://b/k", nullptr,
                                  root, k_small_buffer);
  EXPECT_EQ(problems, (std::vector<std::string>{
                          "s3://b/k: \"../escape.txt\" leads outside its directory",
                          "s3://b/k: \"/etc/abs.txt\" leads outside its directory",
                          (root / "dest/linked/through.txt").string() + ": its directory leads outside " + (root / "dest").string(),
                      }));
  EXPECT_FALSE(fs::exists(root / "escape.txt"));
  EXPECT_FALSE(fs::exists(root / "elsewhere/through.txt"));
  auto got = util::read_file(root / "dest/ok/big.bin");
  ASSERT_TRUE(got);
  EXPECT_TRUE(*got == big);
  struct stat st {};
  ASSERT_EQ(::stat((root / "dest/ok/big.bin").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  EXPECT_EQ(st.st_mtime, 1610612736);  // 14000000000 octal
  // No temporary is left beside the files.
  std::size_t files = 0;
  for (const auto& e : fs::recursive_directory_iterator(root / "dest")) files += e.is_regular_file() ? 1 : 0;
  EXPECT_EQ(files, 1u);
  // A truncated archive leaves no half-written file behind.
  std::string cut = header("ok/cut.bin", '0', big.size()) + big.substr(0, 5000);
  auto cut_problems = extract_archive(files_in_order({gzip(cut, "c.tar")}), (root / "dest").string(), "s3://b/c",
                                      nullptr, root, k_small_buffer);
  EXPECT_EQ(cut_problems, std::vector<std::string>{"s3://b/c: the archive ends early (truncated)"});
  EXPECT_FALSE(fs::exists(root / "dest/ok/cut.bin"));
  files = 0;
  for (const auto& e : fs::recursive_directory_iterator(root / "dest")) files += e.is_regular_file() ? 1 : 0;
  EXPECT_EQ(files, 1u);
}

TEST_F(AwsArchive, LinksComeBackAsLinksWithLongTargetsInGnuAndPaxForms) {
  const std::string long_target = "results/" + std::string(110, 't') + ".txt";
  write("src/results/run1.txt", "r\n");
  fs::create_symlink("results/run1.txt", root / "src/latest");
  fs::create_symlink(long_target, root / "src/far");
  for (const std::string format : {"gnu", "pax"}) {
    run("cd src && tar -czf ../" + format + ".tar.gz --format=" + format + " latest far results/run1.txt");
    auto r = read_all({root / (format + ".tar.gz")});
    ASSERT_FALSE(r.error) << *r.error;
    ASSERT_EQ(r.entries.size(), 3u) << format;
    EXPECT_EQ(r.entries[0].type, '2');
    EXPECT_EQ(r.entries[0].link, "results/run1.txt");
    EXPECT_EQ(r.entries[1].type, '2');
    EXPECT_EQ(r.entries[1].link, long_target) << format << ": GNU 'K' long link, pax linkpath";
    EXPECT_EQ(r.contents[2], "r\n");
    // Extracted: links made as links (replacing what was there), the file through its directory.
    const fs::path dest = root / ("dest-" + format);
    fs::create_directories(dest);
    std::ofstream(dest / "latest") << "an older regular file\n";
    auto problems = extract_archive(files_in_order({root / (format + ".tar.gz")}), dest.string(), "s3://b/k", nullptr,
                                    root, k_small_buffer);
    EXPECT_TRUE(problems.empty()) << problems.front();
    EXPECT_TRUE(fs::is_symlink(dest / "latest"));
    EXPECT_EQ(fs::read_symlink(dest / "latest"), "results/run1.txt");
    EXPECT_EQ(fs::read_symlink(dest / "far"), long_target);
    EXPECT_EQ(*util::read_file(dest / "latest"), "r\n");
  }
}
