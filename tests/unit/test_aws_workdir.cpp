#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "config/config.hpp"
#include "plan/params.hpp"
#include "plan/plan.hpp"
#include "providers/aws/bootstrap.hpp"
#include "providers/aws/workdir.hpp"
#include "slurm/frontend.hpp"
#include "util/error.hpp"
#include "util/files.hpp"

using namespace spawn;
using namespace spawn::providers::aws;
namespace fs = std::filesystem;

namespace {

IgnoreRules rules(const std::vector<std::string>& patterns) {
  IgnoreRules r;
  for (const auto& p : patterns) EXPECT_TRUE(r.add(p, "test").has_value()) << p;
  return r;
}

class AwsWorkdirScan : public ::testing::Test {
protected:
  void SetUp() override {
    char tmpl[] = "/tmp/spawn-workdir-test-XXXXXX";
    ASSERT_TRUE(::mkdtemp(tmpl));
    root = tmpl;
  }
  void TearDown() override { fs::remove_all(root); }
  void write(const std::string& rel, const std::string& text) {
    fs::create_directories((root / rel).parent_path());
    std::ofstream(root / rel) << text;
  }
  std::vector<std::string> paths(const Tree& tree) {
    std::vector<std::string> out;
    for (const auto& e : tree.entries) out.push_back(std::string(1, e.kind) + " " + e.path);
    return out;
  }
  fs::path root;
};

} // namespace

TEST(AwsWorkdirIgnore, NamesMatchAtAnyDepthAndSlashesAnchor) {
  auto r = rules({"*.tmp", "/build", "docs/*.pdf"});
  EXPECT_TRUE(r.ignored("a.tmp", false));
  EXPECT_TRUE(r.ignored("deep/down/a.tmp", false));
  EXPECT_FALSE(r.ignored("a.tmpx", false));
  EXPECT_TRUE(r.ignored("build", true));
  EXPECT_FALSE(r.ignored("src/build", true));  // anchored at the top
  EXPECT_TRUE(r.ignored("docs/x.pdf", false));
  EXPECT_FALSE(r.ignored("docs/sub/x.pdf", false));  // * does not cross /
  EXPECT_FALSE(r.ignored("other/docs/x.pdf", false));
}

TEST(AwsWorkdirIgnore, DirectoryOnlyNegationAndLastMatchWins) {
  auto r = rules({"logs/", "*.log", "!keep.log", "# a comment", "", "out?/", "[ab]*.dat", "[!x]y.bin"});
  EXPECT_TRUE(r.ignored("logs", true));
  EXPECT_FALSE(r.ignored("logs", false));  // a file called logs
  EXPECT_TRUE(r.ignored("run.log", false));
  EXPECT_FALSE(r.ignored("keep.log", false));
  EXPECT_FALSE(r.ignored("sub/keep.log", false));
  EXPECT_TRUE(r.ignored("out1", true));
  EXPECT_FALSE(r.ignored("out12", true));
  EXPECT_TRUE(r.ignored("a1.dat", false));
  EXPECT_FALSE(r.ignored("c1.dat", false));
  EXPECT_TRUE(r.ignored("zy.bin", false));
  EXPECT_FALSE(r.ignored("xy.bin", false));
  EXPECT_FALSE(r.ignored("# a comment", false));
}

TEST(AwsWorkdirIgnore, DoubleStarSegments) {
  auto r = rules({"**/cache", "data/**", "a/**/z.txt"});
  EXPECT_TRUE(r.ignored("cache", true));
  EXPECT_TRUE(r.ignored("x/y/cache", false));
  EXPECT_FALSE(r.ignored("data", true));  // what data holds, not data itself
  EXPECT_TRUE(r.ignored("data/1.txt", false));
  EXPECT_TRUE(r.ignored("data/sub/2.txt", false));
  EXPECT_TRUE(r.ignored("a/z.txt", false));
  EXPECT_TRUE(r.ignored("a/b/c/z.txt", false));
  EXPECT_FALSE(r.ignored("b/a/z.txt", false));
  auto escaped = rules({"\\#literal", "\\!bang", "trailing\\ "});
  EXPECT_TRUE(escaped.ignored("#literal", false));
  EXPECT_TRUE(escaped.ignored("!bang", false));
}

TEST(AwsWorkdirIgnore, BadPatternsNameTheirOrigin) {
  IgnoreRules r;
  EXPECT_EQ(r.add("a**b", ".spawnignore:4").error(),
            ".spawnignore:4: \"a**b\": ** must be a whole path segment (**/x, x/**, a/**/b)");
  EXPECT_EQ(r.add("a//b", ".spawnignore:5").error(), ".spawnignore:5: \"a//b\": an empty path segment (\"//\")");
  EXPECT_EQ(r.add("[abc", ".spawnignore:6").error(), ".spawnignore:6: \"[abc\": an unclosed [");
  EXPECT_EQ(r.add("!/", "workdir.exclude").error(), "workdir.exclude: \"!/\": a pattern without a name");
}

TEST_F(AwsWorkdirScan, ScanHonoursExcludesTheIgnoreFileAndSkipsSpawnState) {
  write("train.py", "print(1)\n");
  write("data/1.txt", "one\n");
  write("data/big.tmp", "xxxx\n");
  write(".git/HEAD", "ref\n");
  write("slurm-12.out", "old run\n");
  write("home/state.db", "spawn's own\n");
  write(".spawnignore", "*.tmp\n");
  fs::create_directory_symlink("data", root / "latest");
  WorkdirPolicy policy;  // default excludes: .git/ and slurm-*.out
  ScanOptions options;
  options.skip = {root / "home"};
  auto tree = scan_directory(root, policy, options);
  ASSERT_TRUE(tree) << tree.error();
  EXPECT_EQ(paths(*tree), (std::vector<std::string>{"f .spawnignore", "d data", "f data/1.txt", "l latest", "f train.py"}));
  EXPECT_EQ(tree->files(), 3u);
  EXPECT_EQ(tree->bytes(), 6u + 4u + 9u);
  EXPECT_EQ(tree->entries[3].sha256, "data");  // a link keeps its target
  EXPECT_EQ(tree->entries[2].sha256, "2c8b08da5ce60398e1f19af0e5dccc744df274b826abe585eaba68c525434806");

  policy.exclude = {};  // the config may let everything travel
  tree = scan_directory(root, policy, options);
  ASSERT_TRUE(tree) << tree.error();
  EXPECT_EQ(tree->files(), 5u);  // .git/HEAD and slurm-12.out too; never home/, never *.tmp (.spawnignore)
}

TEST_F(AwsWorkdirScan, LinksLeadingOutsideAreRefusedUnlessIgnored) {
  write("a.txt", "a\n");
  fs::create_symlink("/etc/hostname", root / "host");
  fs::create_directories(root / "d");
  fs::create_symlink("../../elsewhere", root / "d" / "up");
  fs::create_symlink(root / "a.txt", root / "abs-inside");
  auto tree = scan_directory(root, WorkdirPolicy{}, ScanOptions{});
  ASSERT_FALSE(tree);
  EXPECT_EQ(tree.error(), (root / "host").string() + " -> /etc/hostname: the link leads outside the working directory " +
                              root.string() + "; add it to .spawnignore, or map its prefix with `paths` in the config\n" +
                              (root / "d/up").string() + " -> ../../elsewhere: the link leads outside the working directory " +
                              root.string() + "; add it to .spawnignore, or map its prefix with `paths` in the config");
  write(".spawnignore", "host\nup\n");
  tree = scan_directory(root, WorkdirPolicy{}, ScanOptions{});
  ASSERT_TRUE(tree) << tree.error();
  EXPECT_EQ(tree->entries[2].path, "abs-inside");
  EXPECT_EQ(tree->entries[2].sha256, "a.txt");  // an absolute link inside becomes relative
}

TEST_F(AwsWorkdirScan, TheHashCacheSparesUnchangedFilesAndMissingBlobsIsTheDiff) {
  write("w/one.txt", "one\n");
  write("w/same.txt", "one\n");
  write("w/two.txt", "two\n");
  ScanOptions options;
  options.cache = root / "cache.tsv";
  auto first = scan_directory(root / "w", WorkdirPolicy{}, options);
  ASSERT_TRUE(first) << first.error();
  // Same size and time, other bytes: the cache answers (this is what spares re-reading a large tree).
  auto stamp = fs::last_write_time(root / "w/two.txt");
  write("w/two.txt", "TWO\n");
  fs::last_write_time(root / "w/two.txt", stamp);
  auto second = scan_directory(root / "w", WorkdirPolicy{}, options);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->entries[2].sha256, first->entries[2].sha256);
  // A changed time: hashed again.
  fs::last_write_time(root / "w/two.txt", stamp + std::chrono::seconds(5));
  auto third = scan_directory(root / "w", WorkdirPolicy{}, options);
  ASSERT_TRUE(third);
  EXPECT_NE(third->entries[2].sha256, first->entries[2].sha256);

  const std::string one = "2c8b08da5ce60398e1f19af0e5dccc744df274b826abe585eaba68c525434806";
  const std::string two = "27dd8ed44a83ff94d557f9fd0412ed5a8cbca69ea04922d88c01184a07300a5a";
  EXPECT_EQ(first->entries[2].sha256, two);
  // Identical contents go up once; what S3 holds does not go up again.
  EXPECT_EQ(missing_blobs(*first, {}), (std::vector<std::string>{one, two}));
  EXPECT_EQ(missing_blobs(*first, {one}), (std::vector<std::string>{two}));
  EXPECT_EQ(missing_blobs(*first, {one, two}), std::vector<std::string>{});
  EXPECT_EQ(missing_blobs(*third, {one, two}), (std::vector<std::string>{third->entries[2].sha256}));
}

namespace {
plan::Plan plan_of(const std::string& directives, const std::string& yaml = "") {
  slurm::ReadRequest r;
  r.script_path = "job.sbatch";
  r.script_text = "#!/bin/bash\n" + directives + "echo run\n";
  config::ConfigSources sources;
  return plan::make_plan(slurm::read_job(r), config::parse_config(yaml, "mapping.yaml", sources), plan::PlanOverrides{});
}
} // namespace

TEST(AwsWorkdirPlan, StageDirectivesAndTheConfigReachThePlanAndTheParameterFile) {
  auto p = plan_of("#SPAWN --stage-in s3://lab/inputs/ data/\n#SPAWN --stage-out results/ s3://lab/out/ --max-concurrent 2\n",
                   "defaults:\n  workdir: {travel: true, exclude: [big/], confirm_above: 2G,\n"
                   "            stage_in: {ref/: s3://lab/ref/}}\n  paths: {/scratch/alice/: efs://fs-0123456789abcdef0/alice}\n");
  const auto& run = p.run;
  ASSERT_EQ(run.stage_in.size(), 2u);
  EXPECT_EQ(run.stage_in[0].source, "s3://lab/ref/");  // the config's first, then the script's
  EXPECT_EQ(run.stage_in[0].destination, "ref/");
  EXPECT_EQ(run.stage_in[1].source, "s3://lab/inputs/");
  EXPECT_EQ(run.stage_in[1].destination, "data/");
  ASSERT_EQ(run.stage_out.size(), 1u);
  EXPECT_EQ(run.stage_out[0].source, "results/");
  EXPECT_EQ(run.stage_out[0].destination, "s3://lab/out/");
  EXPECT_EQ(run.max_concurrent, 2u);  // the rest of the line is read as before
  EXPECT_EQ(run.workdir.exclude, std::vector<std::string>{"big/"});
  EXPECT_EQ(run.workdir.confirm_above_mib, 2048u);
  ASSERT_EQ(run.path_mappings.size(), 1u);
  EXPECT_EQ(run.path_mappings[0].prefix, "/scratch/alice");
  EXPECT_EQ(run.path_mappings[0].target, "efs://fs-0123456789abcdef0/alice");
  // The parameter file carries all of it back.
  auto back = plan::parse_param_file(plan::write_param_file(run, plan::ParamFormat::yaml), plan::ParamFormat::yaml, "p.yaml");
  EXPECT_EQ(back.workdir, run.workdir);
  ASSERT_EQ(back.path_mappings.size(), 1u);
  EXPECT_EQ(back.path_mappings[0].target, run.path_mappings[0].target);
  EXPECT_EQ(back.stage_out[0].destination, "s3://lab/out/");
}

TEST(AwsWorkdirPlan, BadOperandsAndValuesNameTheirPlace) {
  try {
    plan_of("#SPAWN --stage-in data/ s3://lab/x/\n#SPAWN --stage-out results/\n");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.messages(), (std::vector<std::string>{
                                "job.sbatch:3: #SPAWN --stage-out: expected two operands (PATH s3://BUCKET/PREFIX)"}));
  }
  try {
    plan_of("#SPAWN --stage-in data/ s3://lab/x/\n");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.messages(), (std::vector<std::string>{
                                "job.sbatch:2: #SPAWN --stage-in: expected an S3 URL (s3://BUCKET/PREFIX), got \"data/\""}));
  }
  try {
    plan_of("", "defaults:\n  paths: {scratch: s3://lab/x/}\n");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.messages(), (std::vector<std::string>{
                                "mapping.yaml:2: paths.scratch: expected an absolute path prefix like /scratch/alice, got \"scratch\""}));
  }
  config::ConfigSources sources;
  try {
    config::parse_config("defaults:\n  paths: {/scratch: nfs://x}\n", "mapping.yaml", sources);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.messages(), (std::vector<std::string>{
                                "mapping.yaml:2: defaults.paths./scratch: expected s3://bucket/prefix or efs://fs-id/dir, got \"nfs://x\""}));
  }
}
