#include <gtest/gtest.h>

#include "config/config.hpp"
#include "plan/plan.hpp"
#include "plan/selection.hpp"
#include "catalog/catalog.hpp"
#include "slurm/frontend.hpp"
#include "util/error.hpp"

using namespace spawn;

namespace {
Job job_of(const std::string& directives) {
  slurm::ReadRequest r;
  r.script_path = "job.sbatch";
  r.script_text = "#!/bin/bash\n" + directives + "echo run\n";
  return slurm::read_job(r);
}
config::Config config_of(const std::string& yaml = "") {
  config::ConfigSources sources;
  return config::parse_config(yaml, "mapping.yaml", sources);
}
NodeRequirements need(const std::string& directives) {
  std::uint32_t tasks_per_node = 0;
  std::vector<std::string> notes;
  return plan::node_requirements(job_of(directives), config_of().settings(), tasks_per_node, notes);
}
} // namespace

TEST(PlanNode, TasksPerNodeTimesCpusPerTask) {
  EXPECT_EQ(need("#SBATCH -N2 --ntasks-per-node=16 -c 2\n").vcpus, 32u);
  EXPECT_EQ(need("#SBATCH -n 8 -c 4\n").vcpus, 32u);
  EXPECT_EQ(need("#SBATCH -n 8 -N 2\n").vcpus, 4u);
  EXPECT_EQ(need("").vcpus, 1u);
}

TEST(PlanNode, MemoryFromEachOfTheThreeOptions) {
  EXPECT_EQ(need("#SBATCH --mem=16G\n").memory_mib, 16384u);
  EXPECT_EQ(need("#SBATCH --mem-per-cpu=2G -c 4\n").memory_mib, 8192u);
  EXPECT_EQ(need("#SBATCH --mem-per-gpu=10G --gpus-per-node=2\n").memory_mib, 20480u);
  auto whole = need("#SBATCH --mem=0\n");
  EXPECT_TRUE(whole.whole_node_memory);
  EXPECT_EQ(whole.memory_mib, 0u);
}

TEST(PlanNode, GpusPerNodeFromEveryForm) {
  auto g = need("#SBATCH --gres=gpu:a100:2\n");
  EXPECT_EQ(g.gpus, 2u);
  EXPECT_EQ(g.gpu_model, "a100");
  EXPECT_EQ(need("#SBATCH --gpus=8 -N 2\n").gpus, 4u);
  EXPECT_EQ(need("#SBATCH -n 4 --gpus-per-task=1\n").gpus, 4u);
  EXPECT_EQ(need("#SBATCH --gpus-per-node=2 --cpus-per-gpu=6\n").vcpus, 12u);
  EXPECT_FALSE(need("#SBATCH --gres=gpu:1\n").gpu_model);
  EXPECT_TRUE(need("#SBATCH --exclusive\n").exclusive);
}

TEST(PlanNode, PartitionRequirementsRaiseTheJobs) {
  auto config = config_of("partitions:\n  big:\n    min_vcpus: 16\n    min_memory: 64G\n");
  auto job = job_of("#SBATCH -p big -c 2\n#SBATCH --time=10\n");
  auto p = plan::make_plan(job, config, {});
  EXPECT_EQ(p.node.vcpus, 16u);
  EXPECT_EQ(p.node.memory_mib, 65536u);
}

TEST(PlanMake, ConcurrencyIsTheSmallerOfThrottleAndConfig) {
  auto job = job_of("#SBATCH --array=1-50%5\n#SBATCH -t 10\n");
  auto p = plan::make_plan(job, config_of("defaults:\n  max_concurrent: 3\n"), {});
  ASSERT_TRUE(p.max_concurrent);
  EXPECT_EQ(p.max_concurrent->value, 3u);
  EXPECT_EQ(p.max_concurrent->source, "max_concurrent (mapping.yaml:2)");
  p = plan::make_plan(job, config_of(), {});
  EXPECT_EQ(p.max_concurrent->value, 5u);
  EXPECT_EQ(p.tasks, 50u);
}

TEST(PlanMake, RuntimeFromTimeLimitOrOverride) {
  auto job = job_of("#SBATCH --time=2:00:00\n");
  auto p = plan::make_plan(job, config_of(), {});
  EXPECT_EQ(p.runtime_seconds->value, 7200);
  plan::PlanOverrides overrides;
  overrides.runtime_seconds = 1800;
  p = plan::make_plan(job, config_of(), overrides);
  EXPECT_EQ(p.runtime_seconds->value, 1800);
  EXPECT_EQ(p.runtime_seconds->source, "--runtime");
  EXPECT_FALSE(plan::make_plan(job_of(""), config_of(), {}).runtime_seconds);
}

TEST(PlanMake, SpawnDirectivesOverrideTheConfig) {
  auto job = job_of("#SBATCH -t 5\n#SPAWN --instance-type c5.4xlarge,c6i.4xlarge\n#SPAWN --spot false --region=eu-west-1\n");
  auto p = plan::make_plan(job, config_of("defaults:\n  region: us-west-2\n"), {});
  EXPECT_EQ(p.settings.instance_types, (std::vector<std::string>{"c5.4xlarge", "c6i.4xlarge"}));
  EXPECT_EQ(p.settings.market, Market::on_demand);
  EXPECT_EQ(p.settings.region, "eu-west-1");
  EXPECT_EQ(p.settings.origin("region"), "job.sbatch:4");
}

TEST(PlanMake, ContainerFromTheSettingsElseAModuleMappedToAnImage) {
  const std::string modules = "modules:\n  bwa:\n    container: quay.io/bwa:1\n";
  auto from_module = [&](const std::string& directives, const std::string& yaml) {
    slurm::ReadRequest r;
    r.script_path = "job.sbatch";
    r.script_text = "#!/bin/bash\n" + directives + "module load bwa\nbwa mem\n";
    return plan::make_plan(slurm::read_job(r), config_of(yaml), {}).run;
  };
  auto mapped = from_module("", modules);
  EXPECT_EQ(mapped.container, "quay.io/bwa:1");
  EXPECT_EQ(mapped.container_runtime, ContainerRuntime::auto_detect);
  auto chosen = from_module("#SPAWN --container python:3.11 --container-runtime apptainer\n",
                            modules + "defaults:\n  container_runtime: podman\n");
  EXPECT_EQ(chosen.container, "python:3.11");
  EXPECT_EQ(chosen.container_runtime, ContainerRuntime::apptainer);
  EXPECT_FALSE(from_module("", "").container);
}

TEST(PlanMake, SpawnErrorsNameScriptLineOptionAndValue) {
  auto job = job_of("#SBATCH -t 5\n#SPAWN --bogus 1\n#SPAWN --spot maybe\n#SPAWN max_concurrent=0\n");
  try {
    plan::make_plan(job, config_of(), {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.messages(), (std::vector<std::string>{"job.sbatch:3: --bogus: unknown setting",
                                                      "job.sbatch:4: --spot: expected true or false, got \"maybe\"",
                                                      "job.sbatch:5: --max-concurrent: expected a whole number of at least 1, got \"0\""}));
  }
}

TEST(PlanMake, BadSpawnLineNamesScriptAndLine) {
  auto job = job_of("#SPAWN spot true\n");
  try {
    plan::make_plan(job, config_of(), {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.messages(), (std::vector<std::string>{"job.sbatch:2: #SPAWN: expected --KEY VALUE or KEY=VALUE, got \"spot\""}));
  }
}

TEST(PlanSelection, ConfiguredTypesAreCheckedAgainstTheJob) {
  auto cat = catalog::load_catalog(std::nullopt);
  ASSERT_TRUE(cat);
  auto job = job_of("#SBATCH -c 32 -t 5\n#SPAWN --instance-type c5.large\n");
  auto p = plan::make_plan(job, config_of(), {});
  auto chosen = plan::choose_instances(p, *cat);
  ASSERT_FALSE(chosen);
  EXPECT_EQ(chosen.error(),
            "job.sbatch:3: instance_types: c5.large is too small for one node of the job, which needs 32 vCPUs (it has 2)");
  job = job_of("#SBATCH -c 2 -t 5\n#SPAWN --instance-type c5.large,c6i.large\n");
  chosen = plan::choose_instances(plan::make_plan(job, config_of(), {}), *cat);
  ASSERT_TRUE(chosen) << chosen.error();
  EXPECT_EQ(chosen->size(), 2u);
  EXPECT_EQ((*chosen)[0].type.name, "c5.large");
}
