// The mapping file: sections, key paths, line numbers and exact messages.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "config/config.hpp"

using namespace spawn;
using namespace spawn::config;

namespace {

class ConfigFile : public ::testing::Test {
protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::path(::testing::TempDir()) / "spawn-config-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    m_dir = tmpl;
    m_previous = std::filesystem::current_path();
    std::filesystem::current_path(m_dir);
  }
  void TearDown() override {
    std::filesystem::current_path(m_previous);
    std::filesystem::remove_all(m_dir);
  }
  // Writes mapping.yaml in the test's directory and loads it by its relative name, so messages say "mapping.yaml:N".
  Config load(const std::string& text, Environment env = {}) {
    std::ofstream(m_dir / "mapping.yaml") << text;
    return load_config({std::filesystem::path("mapping.yaml"), std::move(env), std::nullopt});
  }
  std::vector<std::string> errors_of(const std::string& text, Environment env = {}) {
    try {
      load(text, std::move(env));
    } catch (const Error& e) {
      return e.messages();
    }
    return {};
  }
  std::filesystem::path m_dir;
  std::filesystem::path m_previous;
};

using Messages = std::vector<std::string>;

} // namespace

TEST_F(ConfigFile, UnknownKeySuggestsTheNearestKey) {
  EXPECT_EQ(errors_of("defaults:\n  region: us-east-1\n  regon: eu-west-1\n"),
            Messages{"mapping.yaml:3: defaults.regon: unknown key (did you mean \"region\"?)"});
  EXPECT_EQ(errors_of("partition:\n  gpu: {}\n"),
            Messages{"mapping.yaml:1: partition: unknown key (did you mean \"partitions\"?)"});
  EXPECT_EQ(errors_of("defaults:\n  colour: blue\n"),
            Messages{"mapping.yaml:2: defaults.colour: unknown key (docs/config.md lists every key)"});
  EXPECT_EQ(
      errors_of("defaults:\n  institutional_rate:\n    core_hours: 0.01\n"),
      Messages{"mapping.yaml:3: defaults.institutional_rate.core_hours: unknown key (did you mean \"core_hour\"?)"});
  EXPECT_EQ(errors_of("stuff: 1\n"), Messages{"mapping.yaml:1: stuff: unknown key (expected one of: version, defaults, "
                                              "partitions, modules, profiles)"});
}

TEST_F(ConfigFile, WrongTypesNameTheLineKeyPathAndValue) {
  EXPECT_EQ(errors_of("defaults:\n  spot: maybe\n"),
            Messages{"mapping.yaml:2: defaults.spot: expected true or false, got \"maybe\""});
  EXPECT_EQ(
      errors_of("partitions:\n  gpu:\n    instance_types: [g5.xlarge]\n    region: us-east-1\n\n\n    spot: maybe\n"),
      Messages{"mapping.yaml:7: partitions.gpu.spot: expected true or false, got \"maybe\""});
  EXPECT_EQ(errors_of("profiles:\n  big:\n    max_concurrent: [1, 2]\n"),
            Messages{"mapping.yaml:3: profiles.big.max_concurrent: expected whole number >= 1, got a list"});
  EXPECT_EQ(errors_of("defaults:\n  architectures:\n    - x86_64\n    - sparc\n"),
            Messages{"mapping.yaml:4: defaults.architectures[1]: expected x86_64 or arm64, got \"sparc\""});
  EXPECT_EQ(errors_of("defaults:\n  institutional_rate:\n    gpu_hour: cheap\n"),
            Messages{"mapping.yaml:3: defaults.institutional_rate.gpu_hour: expected an amount in dollars like 0.02, "
                     "got \"cheap\""});
  EXPECT_EQ(
      errors_of("defaults:\n  gpu_aliases: a100\n"),
      Messages{
          "mapping.yaml:2: defaults.gpu_aliases: expected NAME=VALUE pairs like a100_80g=A100-80GB, got \"a100\""});
  EXPECT_EQ(errors_of("defaults:\n  institutional_rate: 0.02\n"),
            Messages{"mapping.yaml:2: defaults.institutional_rate: expected a mapping with core_hour, gpu_hour, "
                     "service_unit, got \"0.02\""});
  EXPECT_EQ(errors_of("defaults: [region]\n"),
            Messages{"mapping.yaml:1: defaults: expected a mapping of settings, got a list"});
  EXPECT_EQ(errors_of("defaults:\n  candidates:\n"),
            Messages{"mapping.yaml:2: defaults.candidates: expected whole number >= 1, got nothing"});
}

TEST_F(ConfigFile, EveryErrorOfTheFileIsReported) {
  EXPECT_EQ(errors_of("defaults:\n  region: us-east\n  ttl: 4 hours\n  boot_overhead: soon\n"
                      "partitions:\n  gpu:\n    provider: gcp\n"),
            (Messages{"mapping.yaml:2: defaults.region: expected an AWS region like us-east-1, got \"us-east\"",
                      "mapping.yaml:3: defaults.ttl: expected a duration like 4h, 90m, 1h30m or 45s, got \"4 hours\"",
                      "mapping.yaml:4: defaults.boot_overhead: expected a duration like 4h, 90m, 1h30m or 45s, got "
                      "\"soon\"",
                      "mapping.yaml:7: partitions.gpu.provider: expected local, aws or slurm, got \"gcp\""}));
}

TEST_F(ConfigFile, KeysGivenTwiceAreErrors) {
  EXPECT_EQ(errors_of("defaults:\n  region: us-east-1\n  region: eu-west-1\n"),
            Messages{"mapping.yaml:3: defaults.region: given twice (first on line 2)"});
}

TEST_F(ConfigFile, InvalidYamlNamesTheLine) {
  auto errors = errors_of("defaults:\n  region: [us-east-1\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_TRUE(errors[0].starts_with("mapping.yaml:3: not valid YAML: ")) << errors[0];
}

TEST_F(ConfigFile, EmptyFileMeansDefaults) {
  auto config = load("# nothing yet\n");
  EXPECT_EQ(config.settings().region, "us-east-1");
  EXPECT_EQ(config.settings().origin("region"), "default");
}

TEST_F(ConfigFile, ValuesRememberTheirLine) {
  auto config = load("version: 1\ndefaults:\n  spot: false\n  queue_time: 2h-24h\n  institutional_rate:\n"
                     "    core_hour: 0.01\n");
  EXPECT_EQ(config.settings().market, Market::on_demand);
  EXPECT_EQ(config.settings().origin("spot"), "mapping.yaml:3");
  EXPECT_EQ(config.settings().queue_time, (DurationRange{7200, 86400}));
  EXPECT_EQ(config.settings().institutional_rate.core_hour, 10000);
  EXPECT_EQ(config.settings().origin("institutional_rate.core_hour"), "mapping.yaml:6");
  EXPECT_EQ(config.settings().origin("institutional_rate.gpu_hour"), "default");
}

TEST_F(ConfigFile, PartitionsGiveOnlyTheirOwnKeys) {
  auto config = load("partitions:\n  gpu:\n    instance_types: [g5.xlarge, g6.xlarge]\n    min_gpus: 1\n"
                     "    gpu_type: a10g\n    min_memory: 32G\n");
  const auto* gpu = config.partition("gpu");
  ASSERT_NE(gpu, nullptr);
  EXPECT_EQ(gpu->origin, "mapping.yaml:2");
  EXPECT_EQ(gpu->settings.instance_types, (std::vector<std::string>{"g5.xlarge", "g6.xlarge"}));
  EXPECT_TRUE(gpu->settings.is_set("min_gpus"));
  EXPECT_FALSE(gpu->settings.is_set("region"));
  EXPECT_EQ(gpu->settings.min_memory_mib, 32768u);
  EXPECT_EQ(config.partition("cpu"), nullptr);
  auto resolved = config.resolve({.partition = "gpu"});
  EXPECT_EQ(resolved.min_gpus, 1u);
  EXPECT_EQ(resolved.origin("min_gpus"), "mapping.yaml:4");
  EXPECT_EQ(resolved.region, "us-east-1");
}

TEST_F(ConfigFile, ModuleMappingPrefersTheExactVersion) {
  auto config = load("modules:\n  python/3.9:\n    conda: python=3.9\n  python:\n    conda: python\n"
                     "  bio/samtools:\n    container: quay.io/biocontainers/samtools:1.17\n"
                     "  mylib:\n    env: {LD_LIBRARY_PATH: /opt/mylib/lib}\n  R:\n    ignore: true\n");
  ASSERT_NE(config.module_mapping("python/3.9"), nullptr);
  EXPECT_EQ(config.module_mapping("python/3.9")->value, "python=3.9");
  EXPECT_EQ(config.module_mapping("python/3.11")->key, "python");
  EXPECT_EQ(config.module_mapping("python")->key, "python");
  EXPECT_EQ(config.module_mapping("bio/samtools/1.17")->provider, ModuleProvider::container);
  EXPECT_EQ(config.module_mapping("mylib")->env.at("LD_LIBRARY_PATH"), "/opt/mylib/lib");
  EXPECT_EQ(config.module_mapping("R/4.3")->provider, ModuleProvider::ignore);
  EXPECT_EQ(config.module_mapping("python3"), nullptr);
  EXPECT_EQ(config.module_mapping("bio"), nullptr);
  EXPECT_EQ(config.module_mapping("python/3.9")->origin, "mapping.yaml:2");
}

TEST_F(ConfigFile, ModuleMappingNeedsExactlyOneProvider) {
  EXPECT_EQ(
      errors_of("modules:\n  python/3.9:\n    conda: python=3.9\n    container: python:3.9\n"),
      Messages{"mapping.yaml:2: modules.python/3.9: more than one provider (conda, container); give exactly one"});
  EXPECT_EQ(errors_of("modules:\n  gcc: {}\n"),
            Messages{"mapping.yaml:2: modules.gcc: no provider; give one of conda, spack, ami, container, shell, env, "
                     "ignore"});
  EXPECT_EQ(errors_of("modules:\n  gcc:\n    apt: gcc\n"),
            Messages{"mapping.yaml:3: modules.gcc.apt: unknown key (expected one of: conda, spack, ami, container, "
                     "shell, env, ignore)"});
  EXPECT_EQ(errors_of("modules:\n  gcc:\n    sapck: gcc@12\n"),
            Messages{"mapping.yaml:3: modules.gcc.sapck: unknown key (did you mean \"spack\"?)"});
  EXPECT_EQ(errors_of("modules:\n  gcc: conda gcc\n"),
            Messages{"mapping.yaml:2: modules.gcc: expected a mapping like {conda: python=3.9}, got \"conda gcc\""});
  EXPECT_EQ(
      errors_of("modules:\n  cuda:\n    ami: ami-nope\n"),
      Messages{"mapping.yaml:3: modules.cuda.ami: expected an AMI id like ami-0123456789abcdef0, got \"ami-nope\""});
  EXPECT_EQ(errors_of("modules:\n  R:\n    ignore: false\n"),
            Messages{"mapping.yaml:3: modules.R.ignore: expected true (remove the entry to stop ignoring the module), "
                     "got \"false\""});
}

TEST_F(ConfigFile, ProfilesApplyOverDefaultsAndUnderTheEnvironment) {
  const std::string text = "defaults:\n  max_concurrent: 10\n  region: us-west-2\n"
                           "profiles:\n  big:\n    max_concurrent: 200\n    spot: false\n";
  auto plain = load(text);
  EXPECT_EQ(plain.settings().max_concurrent, 10u);
  auto big = load(text, {{"SPAWN_CONFIG_PROFILE", "big"}, {"SPAWN_SPOT", "true"}});
  EXPECT_EQ(big.profile(), "big");
  EXPECT_EQ(big.profile_origin(), "SPAWN_CONFIG_PROFILE");
  EXPECT_EQ(big.settings().max_concurrent, 200u);
  EXPECT_EQ(big.settings().origin("max_concurrent"), "mapping.yaml:6");
  EXPECT_EQ(big.settings().region, "us-west-2");
  EXPECT_EQ(big.settings().market, Market::spot);
  EXPECT_EQ(big.settings().origin("spot"), "SPAWN_SPOT");
}

TEST_F(ConfigFile, UnknownProfileListsTheProfiles) {
  EXPECT_EQ(errors_of("profiles:\n  big: {max_concurrent: 200}\n  small: {max_concurrent: 2}\n",
                      {{"SPAWN_CONFIG_PROFILE", "huge"}}),
            Messages{"SPAWN_CONFIG_PROFILE: no profile \"huge\" in mapping.yaml (profiles: big, small)"});
}

TEST_F(ConfigFile, JobProfileAndDirectivesLayerBetweenPartitionAndEnvironment) {
  auto config = load("partitions:\n  gpu:\n    max_concurrent: 4\n    region: us-west-2\n"
                     "profiles:\n  big:\n    max_concurrent: 200\n",
                     {{"SPAWN_REGION", "eu-west-1"}});
  JobContext job{.partition = "gpu",
                 .profile = Assignment{"config-profile", "big", "job.sbatch:3"},
                 .directives = {{"--spot", "false", "job.sbatch:4"}, {"region", "us-east-2", "job.sbatch:5"}}};
  auto settings = config.resolve(job);
  EXPECT_EQ(settings.max_concurrent, 4u); // the partition is above the profile
  EXPECT_EQ(settings.origin("max_concurrent"), "mapping.yaml:3");
  EXPECT_EQ(settings.market, Market::on_demand);
  EXPECT_EQ(settings.origin("spot"), "job.sbatch:4");
  EXPECT_EQ(settings.region, "eu-west-1"); // the environment is above #SPAWN
  EXPECT_EQ(settings.origin("region"), "SPAWN_REGION");

  job.profile = Assignment{"config-profile", "huge", "job.sbatch:3"};
  job.directives = {{"--spot", "maybe", "job.sbatch:4"}, {"--colour", "blue", "job.sbatch:6"}};
  try {
    config.resolve(job);
    FAIL() << "resolve accepted bad directives";
  } catch (const Error& e) {
    EXPECT_EQ(e.messages(),
              (Messages{"job.sbatch:3: --config-profile: no profile \"huge\" in mapping.yaml (profiles: big)",
                        "job.sbatch:4: --spot: expected true or false, got \"maybe\"",
                        "job.sbatch:6: --colour: unknown setting"}));
  }
}

TEST_F(ConfigFile, ExampleMappingLoads) {
  auto config = load_config(
      {std::filesystem::path(SPAWN_TEST_DATA).parent_path().parent_path() / "examples" / "mapping.yaml", {}, {}});
  ASSERT_NE(config.partition("gpu"), nullptr);
  ASSERT_NE(config.partition("cpu"), nullptr);
  ASSERT_NE(config.partition("bigmem"), nullptr);
  for (const char* module : {"python/3.9", "cuda/11.8", "gcc/12.2.0", "samtools/1.17", "bwa", "openmpi/4.1.5"}) {
    EXPECT_NE(config.module_mapping(module), nullptr) << module;
  }
  EXPECT_TRUE(config.settings().queue_time.has_value());
  EXPECT_GT(config.settings().institutional_rate.core_hour, 0);
  EXPECT_FALSE(config.profiles().empty());
}

TEST_F(ConfigFile, AwsKeysComeFromTheFileAndTheEnvironment) {
  auto config = load("defaults:\n  aws:\n    bucket: lab-spawn\n    subnets: [subnet-a, subnet-b]\n"
                     "partitions:\n  gpu:\n    aws:\n      root_volume_gib: 200\n");
  EXPECT_EQ(config.settings().aws.bucket, "lab-spawn");
  EXPECT_EQ(config.settings().origin("aws.bucket"), "mapping.yaml:3");
  EXPECT_EQ(config.settings().aws.subnets, (std::vector<std::string>{"subnet-a", "subnet-b"}));
  EXPECT_EQ(config.settings().aws.prefix, "spawn");
  EXPECT_EQ(config.resolve({.partition = "gpu"}).aws.root_volume_gib, 200u);
  auto env = load("defaults:\n  aws:\n    bucket: lab-spawn\n", {{"SPAWN_AWS_BUCKET", "other"}});
  EXPECT_EQ(env.settings().aws.bucket, "other");
  EXPECT_EQ(env.settings().origin("aws.bucket"), "SPAWN_AWS_BUCKET");
}
