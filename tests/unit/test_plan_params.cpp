#include <gtest/gtest.h>

#include <random>

#include "config/config.hpp"
#include "plan/params.hpp"
#include "plan/plan.hpp"
#include "slurm/frontend.hpp"
#include "util/error.hpp"

using namespace spawn;

namespace {
spawn::Plan plan_of(const std::string& script, const std::string& yaml_config = "") {
  slurm::ReadRequest r;
  r.script_path = "job.sbatch";
  r.script_text = script;
  auto job = slurm::read_job(r);
  auto config = config::parse_config(yaml_config, "mapping.yaml", {});
  plan::PlanOverrides o;
  o.submit_dir = "/home/user/project";
  return plan::make_plan(job, config, o).run;
}

std::vector<std::string> errors_of(const std::string& text, plan::ParamFormat format = plan::ParamFormat::yaml) {
  try {
    plan::parse_param_file(text, format, "params.yaml");
  } catch (const Error& e) {
    return e.messages();
  }
  return {};
}

const char* k_array_script = "#!/bin/bash\n#SBATCH -J sweep --array=1-10:3%2 -t 1:30:00 -c 4 --mem=8G\n"
                             "#SBATCH -o out/%x_%A_%a.log --signal=B:USR1@120 --open-mode=append\n"
                             "#SBATCH --mail-type=END --account=lab\nmodule load python/3.9\nsamtools view /scratch/lab/x.bam\n";
} // namespace

TEST(PlanParams, YamlAndJsonRoundTripToTheSamePlan) {
  for (const char* script : {k_array_script, "#!/bin/bash\n#SBATCH -N 4 --ntasks-per-node=16 --exclusive\nsrun ./a\n",
                             "#!/bin/bash\n#SBATCH --gres=gpu:a100:2 --dependency=afterok:12+5\npython t.py\n"}) {
    auto plan = plan_of(script, "modules:\n  python/3.9:\n    conda: python=3.9\n");
    auto doc = plan::plan_to_document(plan);
    for (auto format : {plan::ParamFormat::yaml, plan::ParamFormat::json}) {
      auto text = plan::write_param_file(plan, format);
      auto back = plan::parse_param_file(text, format, "params");
      EXPECT_EQ(plan::plan_to_document(back).dump(1), doc.dump(1)) << text;
      EXPECT_EQ(back.script_text, plan.script_text);
    }
  }
}

TEST(PlanParams, ScriptBodyTravelsByteForByte) {
  const std::string tricky[] = {
      "#!/bin/bash\necho no trailing newline",
      "#!/bin/bash\necho two\n\n",
      "#!/bin/bash\n\n\n  indented\n\ttabbed \n...\n---\n# comment: with colon\ncat <<'EOF'\n  #SBATCH -N9 \"quoted\" 'x'\nEOF\n",
      "#!/bin/sh\r\n",  // a carriage return cannot sit in a YAML block: written quoted instead
      "#!/bin/bash\necho \"\\x01\" \x01 done\n",
      "#!/bin/bash\n   \n    \n",
  };
  for (const auto& script : tricky) {
    spawn::Plan plan;
    plan.script_text = script;
    for (auto format : {plan::ParamFormat::yaml, plan::ParamFormat::json}) {
      auto back = plan::parse_param_file(plan::write_param_file(plan, format), format, "params");
      EXPECT_EQ(back.script_text, script);
    }
  }
}

TEST(PlanParams, EveryArrayTaskIsAParamsEntry) {
  auto plan = plan_of(k_array_script);
  auto doc = plan::plan_to_document(plan);
  EXPECT_EQ(doc["params"].dump(), R"([{"index":1},{"index":4},{"index":7},{"index":10}])");
  EXPECT_EQ(doc["job"]["array"], "1-10:3%2");
  EXPECT_EQ(doc["job"]["signal"], "B:USR1@120");
  EXPECT_EQ(doc["defaults"]["max_concurrent"], 2);
  EXPECT_EQ(doc["modules"][0]["name"], "python/3.9");
  EXPECT_EQ(doc["cluster_paths"][0]["path"], "/scratch/lab/x.bam");
  EXPECT_EQ(doc["unsupported"][0]["option"], "--mail-type");
}

TEST(PlanParams, EditedParamsChooseTheTasks) {
  auto plan = plan_of(k_array_script);
  auto text = plan::write_param_file(plan, plan::ParamFormat::yaml);
  auto at = text.find("  - {index: 4}\n");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 15, "  - {index: 4, lr: \"0.01\"}\n  - {index: 5}\n");
  auto back = plan::parse_param_file(text, plan::ParamFormat::yaml, "params.yaml");
  ASSERT_TRUE(back.array);
  EXPECT_EQ(back.array->indices(), (std::vector<std::uint64_t>{1, 4, 5, 7, 10}));
  EXPECT_EQ(back.array->max_running, 2u);
  EXPECT_EQ(back.task_values.at(4).at("lr"), "0.01");
}

TEST(PlanParams, HandWrittenFileWithGridLikeSpawnsLauncher) {
  auto plan = plan::parse_param_file("defaults:\n  instance_type: c7i.xlarge|c6i.xlarge\n  region: us-west-2\n  spot: false\n"
                                     "  ttl: 4h\n  command: python train.py\ngrid:\n  lr: [0.001, 0.01]\n  batch: [32, 64]\n"
                                     "params:\n  - {name: run-1, lr: 0.1}\n",
                                     plan::ParamFormat::yaml, "sweep.yaml");
  EXPECT_EQ(plan.instance_types, (std::vector<std::string>{"c7i.xlarge", "c6i.xlarge"}));
  EXPECT_EQ(plan.market, Market::on_demand);
  EXPECT_EQ(plan.ttl_seconds, 4 * 3600);
  ASSERT_TRUE(plan.array);
  EXPECT_EQ(plan.array->count, 5u);
  EXPECT_EQ(plan.task_values.at(0).at("lr"), "0.1");
  EXPECT_EQ(plan.task_values.at(4).at("batch"), "64");
  EXPECT_EQ(plan.environment.at("command"), "python train.py");
}

TEST(PlanParams, CsvRowsAreTasks) {
  auto plan = plan::parse_param_file("command,seed\necho a,1\necho b,2\n", plan::ParamFormat::csv, "p.csv");
  ASSERT_TRUE(plan.array);
  EXPECT_EQ(plan.array->count, 2u);
  EXPECT_EQ(plan.task_values.at(1).at("command"), "echo b");
  EXPECT_NE(plan.script_text.find("eval \"$command\""), std::string::npos);
  EXPECT_EQ(errors_of("a,b\n1\n", plan::ParamFormat::csv), (std::vector<std::string>{"params.yaml:2: 1 values for 2 columns"}));
}

TEST(PlanParams, ErrorsNameLineKeyPathAndValue) {
  EXPECT_EQ(errors_of("job:\n  name: x\n  nodez: 2\ndefaults:\n  spot: maybe\n  max_concurrent: -1\nscript: \"#!/bin/sh\"\n"),
            (std::vector<std::string>{
                "params.yaml:3: job.nodez: unknown key (known: name, script, script_args, submit_directory, "
                "working_directory, array, nodes, ntasks, tasks_per_node, ntasks_per_node, ntasks_requested, cpus_per_task, "
                "mem_per_node_mb, mem_per_cpu_mb, mem_per_gpu_mb, gpus_per_node, gpus_per_task, gpus, cpus_per_gpu, "
                "time_limit, signal, output, error, input, open_mode, dependency, kill_on_invalid_dep, requeue, export, "
                "partition, account, qos)",
                "params.yaml:5: defaults.spot: expected true or false, got \"maybe\"",
                "params.yaml:6: defaults.max_concurrent: expected a whole number >= 1, got \"-1\""}));
  EXPECT_EQ(errors_of("job:\n  array: 10-1\nscript: x\n")[0].substr(0, 40), "params.yaml:2: job.array: invalid value ");
  EXPECT_EQ(errors_of("params:\n  - {index: 1, spot: true}\nscript: x\n"),
            (std::vector<std::string>{"params.yaml:2: params[0].spot: set for the whole job under defaults:, not per task"}));
  EXPECT_EQ(errors_of("defaults: {}\n"),
            (std::vector<std::string>{"params.yaml:1: script: missing: the batch script the tasks run (or a command: in "
                                      "every params row)"}));
}

// The params block of a big array is read without yaml-cpp (one flow mapping per line); whatever a line holds, the
// plan must be the one yaml-cpp reads: each file is read as written (fast path) and with a trailing comment on its
// first params line, which sends the whole file through yaml-cpp.
TEST(PlanParams, FastParamsReaderAgreesWithYamlCpp) {
  const std::vector<std::string> values = {
      "plain", "two  spaces", "1", "-5", "1.5e3", "true", "no", "null", "~", "", " lead", "trail ", "a: b", "a:b",
      "http://x/y?q=1", "x #y", "x#y", "#x", "-x", "- x", "'q'", "\"dq\"", "back\\slash", "tab\there", "new\nline",
      "uni\xc3\xa9", "{x}", "[1, 2]", "a,b", "@at", "%p", "!bang", "&a", "*b", "|", ">", "?", ":", "k:", "x\r"};
  auto plan = plan_of("#!/bin/bash\n#SBATCH --array=0-" + std::to_string(values.size() - 1) + "\necho $SAMPLE\n");
  std::mt19937 random(7);
  for (std::size_t i = 0; i < values.size(); ++i) {
    plan.task_values[i]["SAMPLE"] = values[i];
    plan.task_values[i]["key with space"] = values[(i * 7) % values.size()];
    plan.task_values[i]["K" + std::to_string(random() % 5)] = values[random() % values.size()];
  }
  auto text = plan::write_param_file(plan, plan::ParamFormat::yaml);
  auto fast = plan::fast_params_count(text);
  auto at = text.find("\n  - {");
  ASSERT_NE(at, std::string::npos) << text;
  auto slow_text = text;
  slow_text.insert(slow_text.find('\n', at + 1), "  # sends the file through yaml-cpp");
  ASSERT_FALSE(plan::fast_params_count(slow_text));
  auto slow = plan::parse_param_file(slow_text, plan::ParamFormat::yaml, "params.yaml");
  auto read = plan::parse_param_file(text, plan::ParamFormat::yaml, "params.yaml");
  EXPECT_EQ(plan::plan_to_document(read).dump(1), plan::plan_to_document(slow).dump(1));
  EXPECT_EQ(read.task_values, plan.task_values);
  // The values the writer leaves plain or quotes as JSON strings are all the fast reader's.
  ASSERT_TRUE(fast) << text;
  EXPECT_EQ(*fast, values.size());

  // Hand-written lines: what the fast reader takes it reads as yaml-cpp does, the rest falls back.
  for (const std::string line : {"  - {index: 0, A: x:y}", "  - {index: 0, A: \"\\u00e9\\t\"}", "  - {index: 0, A: b:}",
                                 "  - {index: 0, A: 'single'}", "  - {index: 0, A: [1]}", "  - {index: 0,A: 1}",
                                 "  - {index: 0, A:1}", "  - { index: 0 , A: 1 }", "  - {index: 0, A: a # b}",
                                 "  - {index: 0, A: ~}", "  - {index: 0, A: }", "  - {\"index\": 0, \"A B\": 1}",
                                 "- {index: 0, A: 1}"}) {
    std::string file = "format: spawn-parameter-file/1\nscript: |\n  #!/bin/bash\n  echo\nparams:\n" + line + "\n";
    auto fallback = file;
    fallback.insert(fallback.size() - 1, "  # yaml-cpp");
    std::string a, b;
    try {
      a = plan::plan_to_document(plan::parse_param_file(file, plan::ParamFormat::yaml, "p.yaml")).dump();
    } catch (const Error& e) {
      a = std::string("error: ") + e.what();
    }
    try {
      b = plan::plan_to_document(plan::parse_param_file(fallback, plan::ParamFormat::yaml, "p.yaml")).dump();
    } catch (const Error& e) {
      b = std::string("error: ") + e.what();
    }
    EXPECT_EQ(a, b) << line << (plan::fast_params_count(file) ? " (fast)" : " (yaml-cpp)");
  }
}
