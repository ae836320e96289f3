#include <gtest/gtest.h>

#include "slurm/frontend.hpp"
#include "util/error.hpp"

using namespace spawn;
using namespace spawn::slurm;

namespace {
Job read(const std::string& text, std::vector<std::string> cli = {},
         std::vector<std::pair<std::string, std::string>> env = {}) {
  ReadRequest r;
  r.script_path = "dir/job.sbatch";
  r.script_text = text;
  r.command_line = std::move(cli);
  r.environment = std::move(env);
  return read_job(r);
}
std::vector<std::string> errors_of(const std::string& text, std::vector<std::string> cli = {}) {
  try {
    read(text, std::move(cli));
  } catch (const Error& e) {
    return e.messages();
  }
  return {};
}
} // namespace

TEST(SlurmFrontend, JobNameDefaultsToScriptFileName) {
  EXPECT_EQ(read("#!/bin/bash\necho\n").job_name, "job.sbatch");
  EXPECT_EQ(read("#!/bin/bash\n#SBATCH -J train\necho\n").job_name, "train");
}

TEST(SlurmFrontend, PrecedenceScriptThenEnvironmentThenCommandLine) {
  std::string script = "#!/bin/bash\n#SBATCH --time=10 -p batch -J a\necho\n";
  auto job = read(script, {}, {{"SBATCH_TIMELIMIT", "20"}, {"SBATCH_PARTITION", "gpu"}});
  EXPECT_EQ(job.time_limit_minutes, 20u);
  EXPECT_EQ(job.partition, "gpu");
  job = read(script, {"-t", "30"}, {{"SBATCH_TIMELIMIT", "20"}});
  EXPECT_EQ(job.time_limit_minutes, 30u);
  EXPECT_EQ(job.find("--time")->source, OptionSource::command_line);
  EXPECT_EQ(job.job_name, "a");
}

TEST(SlurmFrontend, LaterDirectiveWinsAndArgumentFromNextLine) {
  auto job = read("#!/bin/bash\n#SBATCH --time=10\n#SBATCH --time\n#SBATCH 20\necho\n");
  EXPECT_EQ(job.time_limit_minutes, 20u);
}

TEST(SlurmFrontend, DerivedTaskCounts) {
  EXPECT_EQ(read("#!/bin/bash\necho\n").ntasks, 1u);
  EXPECT_EQ(read("#!/bin/bash\n#SBATCH -N4\necho\n").ntasks, 4u);
  EXPECT_EQ(read("#!/bin/bash\n#SBATCH -N2 --ntasks-per-node=16\necho\n").ntasks, 32u);
  EXPECT_EQ(read("#!/bin/bash\n#SBATCH --ntasks-per-node=8\necho\n").ntasks, 8u);
  EXPECT_EQ(read("#!/bin/bash\n#SBATCH -n 12 -N 2\necho\n").ntasks, 12u);
  auto job = read("#!/bin/bash\n#SBATCH -n 2 -N 4\necho\n");
  EXPECT_EQ(job.ntasks, 2u);
  EXPECT_EQ(job.nodes_min, 2u);
  EXPECT_EQ(job.warnings.size(), 1u);
}

TEST(SlurmFrontend, MemoryOptionsAreMutuallyExclusive) {
  EXPECT_EQ(errors_of("#!/bin/bash\n#SBATCH --mem=1G\n#SBATCH --mem-per-cpu=2G\necho\n"),
            (std::vector<std::string>{"dir/job.sbatch:3: --mem, --mem-per-cpu and --mem-per-gpu are mutually "
                                      "exclusive; given: --mem (dir/job.sbatch:2), --mem-per-cpu (dir/job.sbatch:3)"}));
  // One from the script overrides another from the environment.
  auto job = read("#!/bin/bash\n#SBATCH --mem-per-cpu=2G\necho\n", {}, {{"SBATCH_MEM_PER_NODE", "8G"}});
  EXPECT_FALSE(job.mem_per_node_mb);
  EXPECT_EQ(job.mem_per_cpu_mb, 2048u);
}

TEST(SlurmFrontend, EveryErrorOfAPassIsReported) {
  auto errors = errors_of("#!/bin/bash\n#SBATCH --time=2hours\n#SBATCH --mem=4.5G\n#SBATCH --bogus\necho\n");
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_EQ(errors[0], "dir/job.sbatch:4: unrecognized option '--bogus'");
  EXPECT_EQ(errors[1],
            "dir/job.sbatch:2: --time: invalid value \"2hours\" (expected M, M:S, H:M:S, D-H, D-H:M, D-H:M:S or UNLIMITED)");
  EXPECT_EQ(errors[2], "dir/job.sbatch:3: --mem: invalid value \"4.5G\" (expected a whole number with an optional unit K, "
                       "M, G or T, e.g. 4G or 4000M)");
}

TEST(SlurmFrontend, StrayWordIsAnInvalidDirective) {
  EXPECT_EQ(errors_of("#!/bin/bash\n#SBATCH -N1 oops\necho\n"),
            (std::vector<std::string>{"dir/job.sbatch:2: invalid directive \"oops\" (a #SBATCH line holds options only; "
                                      "sbatch stops at the first word that is not an option)"}));
}

TEST(SlurmFrontend, WholeScriptProblemsNameTheFile) {
  EXPECT_EQ(errors_of("echo hi\n"),
            (std::vector<std::string>{"dir/job.sbatch: the batch script does not start with \"#!\" (sbatch needs an "
                                      "interpreter line, e.g. #!/bin/bash)"}));
}

TEST(SlurmFrontend, CommandLineErrorsSaySo) {
  EXPECT_EQ(errors_of("#!/bin/bash\necho\n", {"--time=x"}),
            (std::vector<std::string>{"command line: --time: invalid value \"x\" (expected M, M:S, H:M:S, D-H, D-H:M, "
                                      "D-H:M:S or UNLIMITED)"}));
}

TEST(SlurmFrontend, EarlyOptionsInScriptAreIgnored) {
  auto job = read("#!/bin/bash\n#SBATCH -v --wrap=x -Q\necho\n");
  EXPECT_TRUE(job.directives.empty());
}

TEST(SlurmFrontend, SplitCommandLineFindsScript) {
  auto s = split_command_line({"--array=1-10", "-t", "30", "job.sbatch", "a", "-b"});
  EXPECT_EQ(s.sbatch_options, (std::vector<std::string>{"--array=1-10", "-t", "30"}));
  EXPECT_EQ(s.script, "job.sbatch");
  EXPECT_EQ(s.script_args, (std::vector<std::string>{"a", "-b"}));
}

TEST(SlurmFrontend, ExclusiveAndEnvironmentFlags) {
  EXPECT_EQ(read("#!/bin/bash\n#SBATCH --exclusive\necho\n").exclusive, Exclusive::exclusive);
  EXPECT_EQ(read("#!/bin/bash\n#SBATCH --exclusive=user\necho\n").exclusive, Exclusive::user);
  EXPECT_EQ(read("#!/bin/bash\necho\n", {}, {{"SBATCH_REQUEUE", "yes"}}).requeue, true);
  EXPECT_FALSE(read("#!/bin/bash\necho\n", {}, {{"SBATCH_REQUEUE", "no"}}).requeue.has_value());
}

TEST(SlurmFrontend, NodeListSetsTheNodeCount) {
  auto job = read("#!/bin/bash\n#SBATCH -w cloud[3-4]\necho\n");
  EXPECT_EQ(job.nodes_min, 2u);
  EXPECT_FALSE(job.nodes_max);
  EXPECT_EQ(job.ntasks, 2u);
  EXPECT_EQ(errors_of("#!/bin/bash\n#SBATCH -N 1 -w a,b,c\necho\n"),
            (std::vector<std::string>{"dir/job.sbatch:2: --nodelist: names 3 nodes, more than the maximum of 1 nodes (-N)"}));
}
