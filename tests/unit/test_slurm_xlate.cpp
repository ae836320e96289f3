#include <gtest/gtest.h>

#include "slurm/frontend.hpp"
#include "slurm/xlate.hpp"
#include "util/error.hpp"

using namespace spawn;
using namespace spawn::slurm;

namespace {
// "line:--option=value" (or "line:--option" for a flag) per translated option, in order.
std::vector<std::string> options(const XlateResult& r) {
  std::vector<std::string> out;
  for (const auto& o : r.options)
    out.push_back(std::to_string(o.line) + ":--" + o.option + (o.value ? "=" + *o.value : ""));
  return out;
}
std::vector<std::string> translate(const std::string& text, const XlateContext& context = {}) {
  auto r = translate_pbs_bsub(text, context);
  for (const auto& [line, message] : r.errors) ADD_FAILURE() << line << ": " << message;
  return options(r);
}
std::vector<std::string> errors(const std::string& text) {
  std::vector<std::string> out;
  for (const auto& [line, message] : translate_pbs_bsub(text).errors) out.push_back(std::to_string(line) + ": " + message);
  return out;
}
using Lines = std::vector<std::string>;

Job read(const std::string& text, std::vector<std::string> cli = {},
         std::vector<std::pair<std::string, std::string>> env = {}) {
  ReadRequest r;
  r.script_path = "job.sbatch";
  r.script_text = text;
  r.command_line = std::move(cli);
  r.environment = std::move(env);
  return read_job(r);
}
} // namespace

TEST(SlurmXlate, PbsBasicOptions) {
  EXPECT_EQ(translate("#!/bin/bash\n#PBS -N job -A acct -o out.log -e err.log\n#PBS -q short -a 202501011200\n"),
            (Lines{"2:--job-name=job", "2:--account=acct", "2:--output=out.log", "2:--error=err.log",
                   "3:--partition=short", "3:--begin=202501011200"}));
  EXPECT_EQ(translate("#!/bin/sh\n#PBS -h -p -5 -M me@x.org -t 1-4%2\n#PBS -J 0-6:2\n"),
            (Lines{"2:--hold", "2:--nice=-5", "2:--mail-user=me@x.org", "2:--array=1-4%2", "3:--array=0-6:2"}));
}

TEST(SlurmXlate, PbsMailOptions) {
  EXPECT_EQ(translate("#!/bin/sh\n#PBS -m abe\n"), (Lines{"2:--mail-type=BEGIN,END,FAIL"}));
  EXPECT_EQ(translate("#!/bin/sh\n#PBS -m Ea\n"), (Lines{"2:--mail-type=END,FAIL"}));
  EXPECT_EQ(translate("#!/bin/sh\n#PBS -m bn\n"), (Lines{"2:--mail-type=NONE"}));
  EXPECT_EQ(errors("#!/bin/sh\n#PBS -m x\n"),
            (Lines{"2: #PBS -m \"x\": no mail event (expected one or more of the letters a, b, e, n)"}));
}

TEST(SlurmXlate, PbsAttributesAndVariables) {
  EXPECT_EQ(translate("#!/bin/sh\n#PBS -W depend=afterok:12 -W DEPEND=afterany:13 -W group_list=x\n"),
            (Lines{"2:--dependency=afterok:12", "2:--dependency=afterany:13"}));
  auto r = translate_pbs_bsub("#!/bin/sh\n#PBS -W umask=0027 -W group_list=x\n");
  EXPECT_TRUE(r.options.empty());
  ASSERT_EQ(r.warnings.size(), 2u);
  EXPECT_EQ(r.warnings[0].second, "#PBS -W umask=0027: sbatch sets the job's umask; spawn does not");
  EXPECT_EQ(r.warnings[1].second, "#PBS -W group_list=x: not translated (sbatch ignores it)");
  EXPECT_EQ(errors("#!/bin/sh\n#PBS -W umask=01000\n"),
            (Lines{"2: #PBS -W \"umask=01000\": invalid umask (expected 0 to 0777)"}));
  // Read as C reads "0800" (octal up to the 8): 0, which is valid.
  EXPECT_EQ(errors("#!/bin/sh\n#PBS -W umask=0800\n"), (Lines{}));
  // -v appends to the --export in effect, its own earlier values included.
  EXPECT_EQ(translate("#!/bin/sh\n#PBS -v A=1\n#PBS -v B\n"), (Lines{"2:--export=A=1", "3:--export=A=1,B"}));
  XlateContext ctx;
  ctx.export_env = "NONE";
  EXPECT_EQ(translate("#!/bin/sh\n#PBS -v A=1\n", ctx), (Lines{"2:--export=NONE,A=1"}));
}

TEST(SlurmXlate, PbsIgnoredOptionsWarnAndConsumeTheirArguments) {
  auto r = translate_pbs_bsub("#!/bin/sh\n#PBS -j oe -r y -V -z -N after\n");
  EXPECT_EQ(options(r), (Lines{"2:--job-name=after"}));
  ASSERT_EQ(r.warnings.size(), 4u);
  EXPECT_EQ(r.warnings[0].second, "#PBS -j oe: not translated (sbatch ignores it)");
  EXPECT_EQ(r.warnings[2].second, "#PBS -V: not translated (sbatch ignores it)");
}

TEST(SlurmXlate, PbsResourceListTorque) {
  EXPECT_EQ(translate("#!/bin/sh\n#PBS -l nodes=2:ppn=4,walltime=01:00:00,mem=2gb\n"),
            (Lines{"2:--nodes=2", "2:--ntasks=8", "2:--time=01:00:00", "2:--mem=2g"}));
  EXPECT_EQ(translate("#!/bin/sh\n#PBS -l cput=20,pcput=30,file=10GB,nice=3,mem=512\n"),
            (Lines{"2:--time=20", "2:--time=30", "2:--tmp=10G", "2:--nice=3", "2:--mem=512"}));
  // Counts and ppn add up over '+' parts; ppn alone means one node and no --nodes.
  EXPECT_EQ(translate("#!/bin/sh\n#PBS -l nodes=1:ppn=2+2:ppn=1\n"), (Lines{"2:--nodes=3", "2:--ntasks=9"}));
  EXPECT_EQ(translate("#!/bin/sh\n#PBS -l nodes=1:gpus=2:ppn=3\n"),
            (Lines{"2:--gpus-per-node=2", "2:--nodes=1", "2:--ntasks=3"}));
  // Host names become a ranged --nodelist.
  EXPECT_EQ(translate("#!/bin/sh\n#PBS -l nodes=n1:ppn=1+n2:ppn=1+n3+n7+login\n"),
            (Lines{"2:--ntasks=2", "2:--nodelist=n[1-3,7],login"}));
  EXPECT_EQ(translate("#!/bin/sh\n#PBS -l nodes=cn01+cn02+cn10\n"), (Lines{"2:--nodelist=cn[01-02,10]"}));
}

TEST(SlurmXlate, PbsResourceListScansEveryPosition) {
  // A key is found inside another word; text sbatch does not know is skipped a character at a time.
  EXPECT_EQ(translate("#!/bin/sh\n#PBS -l xmem=3gb\n"), (Lines{"2:--mem=3g"}));
  // Ignored resources are skipped up to the next ',' and named in a warning.
  auto r = translate_pbs_bsub("#!/bin/sh\n#PBS -l vmem=4gb,arch=x86,walltime=5\n");
  EXPECT_EQ(options(r), (Lines{"2:--time=5"}));
  ASSERT_EQ(r.warnings.size(), 2u);
  EXPECT_EQ(r.warnings[0].second, "#PBS -l vmem=4gb: not translated (sbatch ignores it)");
  // proc= skips the resource after it as well, and comes before a --constraint already given.
  XlateContext ctx;
  ctx.constraint = "avx512";
  EXPECT_EQ(translate("#!/bin/sh\n#PBS -l proc=ib,walltime=4:00:00,mem=1gb\n", ctx),
            (Lines{"2:--constraint=ib,avx512", "2:--mem=1g"}));
}

TEST(SlurmXlate, PbsProSelectChunks) {
  EXPECT_EQ(translate("#!/bin/sh\n#PBS -l select=2:ncpus=8:mpiprocs=4\n"),
            (Lines{"2:--nodes=2", "2:--mincpus=8", "2:--ntasks-per-node=4", "2:--cpus-per-task=2"}));
  EXPECT_EQ(translate("#!/bin/sh\n#PBS -l SELECT=1:NCPUS=4:MPIPROCS=4\n"),
            (Lines{"2:--nodes=1", "2:--mincpus=4", "2:--ntasks-per-node=4"}));
  // Without all three, no --cpus-per-task.
  EXPECT_EQ(translate("#!/bin/sh\n#PBS -l select=1:ncpus=8\n"), (Lines{"2:--nodes=1", "2:--mincpus=8"}));
  // These values end at ':', not ',': the rest of the list is read into them.
  EXPECT_EQ(translate("#!/bin/sh\n#PBS -l mpiprocs=2,walltime=01:00:00\n"),
            (Lines{"2:--ntasks-per-node=2,walltime=01"}));
}

TEST(SlurmXlate, PbsAccelerators) {
  EXPECT_EQ(translate("#!/bin/sh\n#PBS -l accelerator=true\n"), (Lines{"2:--gres=gpu:1"}));
  EXPECT_EQ(translate("#!/bin/sh\n#PBS -l accelerator=false\n"), (Lines{}));
  XlateContext ctx;
  ctx.gres = "gpu:1";
  EXPECT_EQ(translate("#!/bin/sh\n#PBS -l naccelerators=2,accelerator=true\n", ctx), (Lines{"2:--gres=gpu:1,gpu:2"}));
  EXPECT_EQ(errors("#!/bin/sh\n#PBS -l naccelerators=two\n"),
            (Lines{"2: #PBS -l naccelerators=two: invalid value \"two\" (expected a positive whole number)"}));
}

TEST(SlurmXlate, LinesAreReadPastCommandsAsOneArgumentList) {
  EXPECT_EQ(translate("#!/bin/sh\necho hi\n#PBS -N\n#PBS late\n  #PBS -A indented-is-not-read\n"),
            (Lines{"3:--job-name=late"}));
  EXPECT_EQ(translate("#!/bin/sh\n#PBS -N 'a b' # -A comment\n#PBS --job_n=\"c\"\n"),
            (Lines{"2:--job-name=a b", "3:--job-name=c"}));
  // Reading stops after 100 lines that do not start with '#' (blank ones included).
  std::string text = "#!/bin/sh\n";
  for (int i = 0; i < 99; ++i) text += "echo\n";
  text += "\n#PBS -N read\n";
  EXPECT_EQ(translate(text), (Lines{"102:--job-name=read"}));
  text += "echo\n#PBS -A unread\n";
  EXPECT_EQ(translate(text), (Lines{"102:--job-name=read"}));
}

TEST(SlurmXlate, BsubFirstAndOneKindOnly) {
  auto r = translate_pbs_bsub("#!/bin/sh\n#PBS -N pbs\n#BSUB -J bsub\n");
  EXPECT_EQ(r.directive, "#BSUB");
  EXPECT_EQ(options(r), (Lines{"3:--job-name=bsub"}));
  // A bare #BSUB line is enough to leave #PBS lines alone.
  r = translate_pbs_bsub("#!/bin/sh\n#BSUB\n#PBS -N pbs\n");
  EXPECT_EQ(r.directive, "#BSUB");
  EXPECT_TRUE(r.options.empty());
  EXPECT_EQ(translate_pbs_bsub("#!/bin/sh\n#SBATCH -J x\necho\n").directive, "");
}

TEST(SlurmXlate, BsubOptions) {
  EXPECT_EQ(translate("#!/bin/sh\n#BSUB -J j -o o.txt -e e.txt -q normal -W 1:30 -x\n"),
            (Lines{"2:--job-name=j", "2:--output=o.txt", "2:--error=e.txt", "2:--partition=normal", "2:--time=1:30",
                   "2:--exclusive"}));
  EXPECT_EQ(translate("#!/bin/sh\n#BSUB -n 2,6 -M 4096\n#BSUB -M 2G -n 3\n"),
            (Lines{"2:--ntasks=6", "2:--mem-per-cpu=4096K", "3:--mem-per-cpu=2G", "3:--ntasks=3"}));
  EXPECT_EQ(translate("#!/bin/sh\n#BSUB -m \"host1 host2\"\n"), (Lines{"2:--nodelist=host1,host2"}));
  EXPECT_EQ(translate("#!/bin/sh\n#BSUB --job_name=long --time=15 --exclusive\n"),
            (Lines{"2:--job-name=long", "2:--time=15", "2:--exclusive"}));
}

TEST(SlurmXlate, BsubCwdIsRewrittenOnlyWhereAnOptionIsExpected) {
  EXPECT_EQ(translate("#!/bin/sh\n#BSUB -cwd /tmp -J x\n"), (Lines{"2:--chdir=/tmp", "2:--job-name=x"}));
  // By position only: every other word, counted from the first, whatever getopt makes of it.
  EXPECT_EQ(translate("#!/bin/sh\n#BSUB -J -cwd\n"), (Lines{"2:--job-name=-cwd"}));
  EXPECT_EQ(translate("#!/bin/sh\n#BSUB -x -J -cwd\n"), (Lines{"2:--exclusive", "2:--job-name=-c"}));
  // After a flag "-cwd" stays: -c with the value "wd", and the directory is a stray word.
  EXPECT_EQ(errors("#!/bin/sh\n#BSUB -x -cwd /tmp\n"),
            (Lines{"2: #BSUB: invalid argument \"/tmp\" (sbatch translates options only; a word that is not one ends "
                   "them)"}));
}

TEST(SlurmXlate, ParseErrorsAreLocated) {
  EXPECT_EQ(errors("#!/bin/sh\n#PBS -Z\n"), (Lines{"2: #PBS: invalid option -- 'Z'"}));
  EXPECT_EQ(errors("#!/bin/sh\n#PBS -l walltime=1\n#PBS -N\n"), (Lines{"3: #PBS: option requires an argument -- 'N'"}));
  EXPECT_EQ(errors("#!/bin/sh\n#PBS --job=x\n"),
            (Lines{"2: #PBS: option '--job' is ambiguous; possibilities: '--job_array' '--job_name'"}));
  EXPECT_EQ(errors("#!/bin/sh\n#PBS --hold=1 --bogus\n"),
            (Lines{"2: #PBS: option '--hold' doesn't allow an argument", "2: #PBS: unrecognized option '--bogus'"}));
  EXPECT_EQ(errors("#!/bin/sh\n#PBS -N ok\n#PBS extra -A x\n"),
            (Lines{"3: #PBS: invalid argument \"extra\" (sbatch translates options only; a word that is not one ends "
                   "them)"}));
  EXPECT_EQ(errors("#!/bin/sh\n#PBSX -N y\n"),
            (Lines{"2: #PBS: invalid argument \"X\" (sbatch translates options only; a word that is not one ends them)"}));
  EXPECT_EQ(errors("#!/bin/sh\n#BSUB -n 2,\n"), (Lines{"2: #BSUB -n \"2,\": format not correct (expected N or MIN,MAX)"}));
  EXPECT_EQ(errors("#!/bin/sh\n#BSUB -J \"open\n"), (Lines{"2: #BSUB: unmatched \" in \" -J \\\"open\""}));
}

TEST(SlurmXlate, IgnorePbsFromScriptEnvironmentOrCommandLine) {
  EXPECT_TRUE(translate_pbs_bsub("#!/bin/sh\n#PBS -N x\n", XlateContext{true, {}, {}, {}}).options.empty());
  EXPECT_TRUE(xlate_context({}, {"--ignore-pbs"}, {}).ignore);
  EXPECT_TRUE(xlate_context({}, {"-N2", "--ignore-pbs", "-t", "5"}, {}).ignore);
  EXPECT_TRUE(xlate_context({}, {}, {{"SBATCH_IGNORE_PBS", ""}}).ignore);
  EXPECT_TRUE(xlate_context({}, {}, {{"SBATCH_IGNORE_PBS", "yes"}}).ignore);
  EXPECT_TRUE(xlate_context({}, {}, {{"SBATCH_IGNORE_PBS", "1"}}).ignore);
  EXPECT_FALSE(xlate_context({}, {}, {{"SBATCH_IGNORE_PBS", "no"}}).ignore);
  EXPECT_FALSE(xlate_context({}, {}, {{"SBATCH_IGNORE_PBS", "0"}}).ignore);
  EXPECT_FALSE(xlate_context({}, {}, {}).ignore);
}

TEST(SlurmXlateFrontend, TranslatedOptionsComeAfterSbatchAndBeforeEnvironment) {
  const std::string script = "#!/bin/bash\n#SBATCH -J from-sbatch -t 10\n#PBS -N from-pbs\n#PBS -l walltime=0:20:00\n"
                             "echo\n";
  auto job = read(script);
  EXPECT_EQ(job.job_name, "from-pbs");
  EXPECT_EQ(job.time_limit_minutes, 20u);
  const auto* name = job.find("--job-name");
  ASSERT_NE(name, nullptr);
  EXPECT_EQ(name->source, OptionSource::script);
  EXPECT_EQ(name->origin, "job.sbatch:3");
  job = read(script, {"--time=7"}, {{"SBATCH_JOB_NAME", "from-env"}});
  EXPECT_EQ(job.job_name, "from-env");
  EXPECT_EQ(job.time_limit_minutes, 7u);
}

TEST(SlurmXlateFrontend, IgnorePbsSources) {
  const std::string script = "#!/bin/bash\n#PBS -N from-pbs\necho\n";
  EXPECT_EQ(read("#!/bin/bash\n#SBATCH --ignore-pbs\n#PBS -N from-pbs\necho\n").job_name, "job.sbatch");
  EXPECT_EQ(read(script, {"--ignore-pbs"}).job_name, "job.sbatch");
  EXPECT_EQ(read(script, {}, {{"SBATCH_IGNORE_PBS", "1"}}).job_name, "job.sbatch");
  EXPECT_EQ(read(script, {}, {{"SBATCH_IGNORE_PBS", "no"}}).job_name, "from-pbs");
}

TEST(SlurmXlateFrontend, StatefulTranslationsSeeTheScriptsSbatchValues) {
  auto job = read("#!/bin/bash\n#SBATCH --constraint=avx512\n#PBS -l proc=ib\necho\n");
  EXPECT_EQ(job.constraint, "ib,avx512");
  job = read("#!/bin/bash\n#SBATCH --export=A=1\n#PBS -v B=2\necho\n");
  ASSERT_TRUE(job.export_env);
  EXPECT_EQ(job.export_env->spec, "A=1,B=2");
  job = read("#!/bin/bash\n#PBS -l select=2:ncpus=8:mpiprocs=4\necho\n");
  EXPECT_EQ(job.nodes_min, 2u);
  EXPECT_EQ(job.ntasks_per_node, 4u);
  EXPECT_EQ(job.cpus_per_task, 2u);
  EXPECT_EQ(job.ntasks, 8u);
}

TEST(SlurmXlateFrontend, ErrorsAndWarningsNameTheLine) {
  try {
    read("#!/bin/bash\n#PBS -l walltime=abc\n#PBS -Z\necho\n");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.messages(),
              (Lines{"job.sbatch:3: #PBS: invalid option -- 'Z'",
                     "job.sbatch:2: --time: invalid value \"abc\" (expected M, M:S, H:M:S, D-H, D-H:M, D-H:M:S or "
                     "UNLIMITED)"}));
  }
  auto job = read("#!/bin/bash\n#PBS -j oe\necho\n");
  EXPECT_EQ(job.warnings, (Lines{"job.sbatch:2: #PBS -j oe: not translated (sbatch ignores it)"}));
}
