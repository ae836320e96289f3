// Where the configuration comes from: --config, $SPAWN_CONFIG, the XDG path, SPAWN_* and the command line.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "config/config.hpp"

using namespace spawn;
using namespace spawn::config;
namespace fs = std::filesystem;

namespace {

class ConfigSourcesTest : public ::testing::Test {
protected:
  void SetUp() override {
    std::string tmpl = (fs::path(::testing::TempDir()) / "spawn-config-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    m_dir = tmpl;
  }
  void TearDown() override { fs::remove_all(m_dir); }
  fs::path write(const fs::path& relative, const std::string& text) {
    auto path = m_dir / relative;
    fs::create_directories(path.parent_path());
    std::ofstream(path) << text;
    return path;
  }
  std::vector<std::string> errors_of(const ConfigSources& sources) {
    try {
      load_config(sources);
    } catch (const Error& e) {
      return e.messages();
    }
    return {};
  }
  fs::path m_dir;
};

using Messages = std::vector<std::string>;

} // namespace

TEST_F(ConfigSourcesTest, NoFileMeansEveryDefault) {
  auto config = load_config({std::nullopt, {{"HOME", (m_dir / "home").string()}}, std::nullopt});
  EXPECT_EQ(config.file(), std::nullopt);
  const auto& s = config.settings();
  EXPECT_EQ(s.region, "us-east-1");
  EXPECT_EQ(s.market, Market::spot);
  EXPECT_EQ(s.provider, Provider::local);
  EXPECT_EQ(s.architectures, std::vector<Arch>{Arch::x86_64});
  EXPECT_EQ(s.candidates, 3u);
  EXPECT_EQ(s.boot_overhead, 90);
  EXPECT_EQ(s.max_concurrent, std::nullopt);
  EXPECT_EQ(s.institutional_rate.core_hour, 0);
  for (const auto& item : config.describe()) EXPECT_EQ(item.origin, "default") << item.key;
}

TEST_F(ConfigSourcesTest, ExplicitFileWinsOverSpawnConfigWhichWinsOverXdg) {
  auto explicit_file = write("explicit.yaml", "defaults:\n  region: eu-west-1\n");
  auto named = write("named.yaml", "defaults:\n  region: eu-west-2\n");
  write("xdg/spawn/config.yaml", "defaults:\n  region: eu-west-3\n");
  write("home/.config/spawn/config.yaml", "defaults:\n  region: eu-north-1\n");
  Environment env = {{"SPAWN_CONFIG", named.string()},
                     {"XDG_CONFIG_HOME", (m_dir / "xdg").string()},
                     {"HOME", (m_dir / "home").string()}};
  EXPECT_EQ(load_config({explicit_file, env, {}}).settings().region, "eu-west-1");
  EXPECT_EQ(load_config({std::nullopt, env, {}}).settings().region, "eu-west-2");
  EXPECT_EQ(load_config({std::nullopt, env, {}}).settings().origin("region"), named.string() + ":2");
  env.erase("SPAWN_CONFIG");
  EXPECT_EQ(load_config({std::nullopt, env, {}}).settings().region, "eu-west-3");
  env.erase("XDG_CONFIG_HOME");
  EXPECT_EQ(load_config({std::nullopt, env, {}}).settings().region, "eu-north-1");
  env["XDG_CONFIG_HOME"] = "relative/dir"; // not absolute: ignored, as the XDG rules say
  EXPECT_EQ(load_config({std::nullopt, env, {}}).settings().region, "eu-north-1");
}

TEST_F(ConfigSourcesTest, LocateSaysWhereAndWhy) {
  auto located = locate_config({std::nullopt, {{"XDG_CONFIG_HOME", (m_dir / "xdg").string()}}, {}});
  EXPECT_EQ(located.path, m_dir / "xdg" / "spawn" / "config.yaml");
  EXPECT_EQ(located.source, ConfigPathSource::default_location);
  EXPECT_FALSE(located.exists);
  EXPECT_EQ(locate_config({std::nullopt, {}, {}}).source, ConfigPathSource::none);
  auto named = write("named.yaml", "");
  located = locate_config({std::nullopt, {{"SPAWN_CONFIG", named.string()}}, {}});
  EXPECT_EQ(located.source_text(), "$SPAWN_CONFIG");
  EXPECT_TRUE(located.exists);
}

TEST_F(ConfigSourcesTest, MissingNamedFileIsAnError) {
  auto missing = (m_dir / "missing.yaml").string();
  EXPECT_EQ(errors_of({fs::path(missing), {}, {}}), Messages{missing + ": no such file (named by --config)"});
  EXPECT_EQ(errors_of({std::nullopt, {{"SPAWN_CONFIG", missing}}, {}}),
            Messages{missing + ": no such file (named by $SPAWN_CONFIG)"});
  EXPECT_EQ(errors_of({m_dir, {}, {}}), Messages{m_dir.string() + ": not a regular file (named by --config)"});
}

TEST_F(ConfigSourcesTest, EnvironmentOverridesTheFileWithItsOrigin) {
  auto file = write("mapping.yaml", "defaults:\n  region: us-west-2\n  spot: true\n  max_concurrent: 5\n");
  auto config = load_config({file,
                             {{"SPAWN_REGION", "eu-west-1"},
                              {"SPAWN_SPOT", "false"},
                              {"SPAWN_ARCHITECTURES", "x86_64,arm64"},
                              {"SPAWN_GPU_ALIASES", "a100_80g=A100-80GB,rtx6000=RTX6000"},
                              {"SPAWN_INSTITUTIONAL_RATE_GPU_HOUR", "0.5"},
                              {"SPAWN_MAX_CONCURRENT", ""}}, // empty: not set
                             {}});
  const auto& s = config.settings();
  EXPECT_EQ(s.region, "eu-west-1");
  EXPECT_EQ(s.origin("region"), "SPAWN_REGION");
  EXPECT_EQ(s.market, Market::on_demand);
  EXPECT_EQ(s.architectures, (std::vector<Arch>{Arch::x86_64, Arch::arm64}));
  EXPECT_EQ(s.gpu_aliases.at("a100_80g"), "A100-80GB");
  EXPECT_EQ(s.institutional_rate.gpu_hour, 500000);
  EXPECT_EQ(s.origin("institutional_rate.gpu_hour"), "SPAWN_INSTITUTIONAL_RATE_GPU_HOUR");
  EXPECT_EQ(s.max_concurrent, 5u);
  EXPECT_EQ(s.origin("max_concurrent"), file.string() + ":4");
}

TEST_F(ConfigSourcesTest, BadEnvironmentValuesAreAllReported) {
  EXPECT_EQ(
      errors_of({std::nullopt, {{"SPAWN_SPOT", "maybe"}, {"SPAWN_MAX_CONCURRENT", "0"}, {"SPAWN_TTL", "4 hours"}}, {}}),
      (Messages{"SPAWN_SPOT: expected true or false, got \"maybe\"",
                "SPAWN_MAX_CONCURRENT: expected a whole number of at least 1, got \"0\"",
                "SPAWN_TTL: expected a duration like 4h, 90m, 1h30m or 45s, got \"4 hours\""}));
}

TEST_F(ConfigSourcesTest, PrecedenceIsFileThenEnvironmentThenCommandLine) {
  auto file = write("mapping.yaml", "defaults:\n  region: us-west-2\n  max_concurrent: 5\n  ttl: 1h\n");
  auto config = load_config({file, {{"SPAWN_REGION", "eu-west-1"}, {"SPAWN_MAX_CONCURRENT", "7"}}, {}});
  ASSERT_TRUE(config.set_from_command_line("--region", "ap-south-1"));
  ASSERT_TRUE(config.set_from_command_line("instance-types", "c7i.4xlarge,c6i.4xlarge"));
  const auto& s = config.settings();
  EXPECT_EQ(s.region, "ap-south-1");
  EXPECT_EQ(s.origin("region"), "command line");
  EXPECT_EQ(s.max_concurrent, 7u);
  EXPECT_EQ(s.origin("max_concurrent"), "SPAWN_MAX_CONCURRENT");
  EXPECT_EQ(s.ttl, 3600);
  EXPECT_EQ(s.origin("ttl"), file.string() + ":4");
  EXPECT_EQ(s.instance_types, (std::vector<std::string>{"c7i.4xlarge", "c6i.4xlarge"}));
  // The command line also wins over a partition and #SPAWN.
  auto job = config.resolve(
      {.partition = std::nullopt, .profile = std::nullopt, .directives = {{"--region", "us-east-2", "job.sbatch:3"}}});
  EXPECT_EQ(job.region, "ap-south-1");
}

TEST_F(ConfigSourcesTest, CommandLineErrorsNameTheOption) {
  auto config = load_config({std::nullopt, {}, {}});
  EXPECT_EQ(config.set_from_command_line("spot", "maybe").error(), "--spot: expected true or false, got \"maybe\"");
  EXPECT_EQ(config.set_from_command_line("--regoin", "x").error(),
            "--regoin: unknown setting (did you mean \"--region\"?)");
  EXPECT_EQ(config.set_from_command_line("--architectures", "").error(),
            "--architectures: expected a list of architectures (x86_64, arm64), got an empty list");
  EXPECT_EQ(config.settings().market, Market::spot); // a bad value changes nothing
}

TEST_F(ConfigSourcesTest, CommandLineProfileWinsOverTheEnvironment) {
  auto file = write("mapping.yaml", "profiles:\n  a: {max_concurrent: 1}\n  b: {max_concurrent: 2}\n");
  auto config = load_config({file, {{"SPAWN_CONFIG_PROFILE", "a"}}, "b"});
  EXPECT_EQ(config.settings().max_concurrent, 2u);
  EXPECT_EQ(config.profile_origin(), "--config-profile");
  EXPECT_EQ(errors_of({std::nullopt, {}, "b"}),
            Messages{"--config-profile: no profile \"b\" (no configuration file was read)"});
}

TEST_F(ConfigSourcesTest, DescribeAndJsonListEveryKeyWithItsOrigin) {
  auto file = write("mapping.yaml", "defaults:\n  spot: false\n  queue_time: 2h-24h\n"
                                    "partitions:\n  gpu:\n    min_gpus: 1\n"
                                    "modules:\n  python:\n    conda: python=3.11\n");
  auto config = load_config({file, {{"SPAWN_REGION", "eu-west-1"}}, {}});
  auto lines = config.describe();
  ASSERT_EQ(lines.size(), keys().size() + 2);
  auto line_of = [&](const std::string& key) {
    for (const auto& item : lines) {
      if (item.key == key) return "(" + item.origin + ") " + item.key + " = " + item.value;
    }
    return std::string("missing ") + key;
  };
  EXPECT_EQ(line_of("region"), "(SPAWN_REGION) region = eu-west-1");
  EXPECT_EQ(line_of("spot"), "(" + file.string() + ":2) spot = false");
  EXPECT_EQ(line_of("max_concurrent"), "(default) max_concurrent = (all at once)");
  EXPECT_EQ(line_of("architectures"), "(default) architectures = x86_64");
  EXPECT_EQ(line_of("boot_overhead"), "(default) boot_overhead = 1m30s");
  EXPECT_EQ(line_of("queue_time"), "(" + file.string() + ":3) queue_time = 2h-1d");
  EXPECT_EQ(line_of("partitions.gpu.min_gpus"), "(" + file.string() + ":6) partitions.gpu.min_gpus = 1");
  EXPECT_EQ(line_of("modules.python"), "(" + file.string() + ":8) modules.python = conda python=3.11");

  auto json = config.to_json();
  EXPECT_EQ(json["settings"]["spot"]["value"], false);
  EXPECT_EQ(json["settings"]["queue_time"]["value"], nlohmann::json::array({7200, 86400}));
  EXPECT_EQ(json["settings"]["max_concurrent"]["value"], nullptr);
  EXPECT_EQ(json["settings"]["region"]["origin"], "SPAWN_REGION");
  EXPECT_EQ(json["partitions"]["gpu"]["settings"]["min_gpus"]["value"], 1);
  EXPECT_EQ(json["modules"]["python"]["provider"], "conda");
}

TEST(ConfigKeys, EveryKeyHasAnEnvironmentVariableAndAnOption) {
  const auto* key = find_key("--max-concurrent");
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(key->name, "max_concurrent");
  EXPECT_EQ(key->env, "SPAWN_MAX_CONCURRENT");
  EXPECT_EQ(find_key("institutional_rate.core_hour")->env, "SPAWN_INSTITUTIONAL_RATE_CORE_HOUR");
  EXPECT_EQ(find_key("institutional-rate-core-hour")->option, "--institutional-rate-core-hour");
  EXPECT_EQ(find_key("--instance-type")->name, "instance_types");
  EXPECT_EQ(find_key("nope"), nullptr);
  for (const auto& k : keys()) EXPECT_FALSE(k.summary.empty()) << k.name;
}

TEST(ConfigKeys, DocsListEveryKey) {
  auto path = std::filesystem::path(SPAWN_TEST_DATA).parent_path().parent_path() / "docs" / "config.md";
  std::ifstream in(path);
  ASSERT_TRUE(in) << path;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const auto& k : keys()) {
    EXPECT_NE(text.find("| `" + std::string(k.name) + "` |"), std::string::npos) << k.name << " is not in " << path;
  }
}
