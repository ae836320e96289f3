#include "cli/app.hpp"

#include <cstdio>
#include <iostream>

#include "cli/commands.hpp"
#include "providers/registry.hpp"
#include "util/error.hpp"

namespace spawn::cli {

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      {"slurm inspect", "[SBATCH OPTIONS] SCRIPT [--json]",
       "read a batch script exactly as sbatch 22.05 does and show what it asks for", cmd_slurm_inspect},
      {"slurm estimate",
       "[SBATCH OPTIONS] SCRIPT [--config FILE] [--region R] [--spot|--on-demand] [--max-concurrent N] "
       "[--runtime DURATION] [--queue-time RANGE] [--json]",
       "choose instance types for the job and estimate its cost and wall time against the cluster's queue",
       cmd_slurm_estimate},
      {"slurm convert", "[SBATCH OPTIONS] SCRIPT [--config FILE] [-o|--output FILE] [--format yaml|json]",
       "write the job as a spawn parameter file to read, edit and `spawn launch --param-file`", cmd_slurm_convert},
      {"slurm submit",
       "[SBATCH OPTIONS] SCRIPT [ARGS] [--config FILE] [--provider local|aws|slurm] [--dependency SPEC] [--detach] "
       "[--dry-run] [--yes] [--json] [--hybrid (--cloud-share F | --deadline D | --budget USD [--deadline D]) "
       "[--cloud-provider aws|local]]",
       "run the job as Slurm would (on this machine by default, or on the Slurm cluster with --provider slurm); "
       "--hybrid splits an array between the cluster and a cloud under one job id; exits 0 only if every task "
       "succeeded",
       cmd_slurm_submit},
      {"launch",
       "--param-file FILE | --count N [--instance-type T] [--mpi] [--spot] [--ttl 4h] [--provider P] -- COMMAND... "
       "[--detach] [--dry-run] [--yes] [--json]",
       "run a parameter file's plan, or N copies of a command (one task on N nodes with --mpi)", cmd_launch},
      {"status", "[JOB[_INDEX]] [--all] [--json]",
       "jobs and tasks as squeue shows them: JOBID, NAME, STATE, TIME, NODES, REASON; for aws jobs also each task's "
       "instance, type, zone, market, EC2 state, pools tried, and the cost so far (one DescribeInstances per job)",
       cmd_status},
      {"list", "[--json] [--aws [--region R] [--job JOB]]",
       "every job spawn knows, newest first; --aws: spawn's EC2 instances that are not terminated", cmd_list},
      {"logs", "JOB[_INDEX] [--follow] [--stderr]",
       "the output file of a task (on EC2: its copy in S3 while it runs; --follow streams until the task ends)",
       cmd_logs},
      {"cancel", "JOB[_INDEX]...",
       "stop a job or one of its tasks (pending ones never start); aws: terminates the instances in batches and "
       "confirms with EC2 that they are shutting down",
       cmd_cancel},
      {"wait", "JOB", "block until the job ends; exit status as `sbatch --wait`", cmd_wait},
      {"cost", "JOB [--json]",
       "an aws job's cost per task and in all (instance time x catalog price of its pool, so far while it runs); a "
       "--hybrid job's on each side: estimated at submission, spent after the run",
       cmd_cost},
      {"resume", "JOB [--foreground]",
       "drive a job again from its records (after its supervisor died); detached unless --foreground", cmd_resume},
      {"catalog list", "[--region R] [--vcpus N] [--mem 16G] [--gpus N] [--gpu-type a10g] [--arch x86_64|arm64|any] "
       "[--spot] [--all] [--limit N] [--config FILE] [--json]",
       "instance types that match, cheapest first, with their prices and the date of those prices", cmd_catalog_list},
      {"catalog refresh", "[--region R[,R...]]... [--config FILE]",
       "read instance types, on-demand (Price List) and spot prices from AWS into the user's cached catalog, which "
       "then replaces the built-in one; other regions are kept",
       cmd_catalog_refresh},
      {"aws list", "[--region R] [--job JOB] [--json]",
       "spawn's EC2 instances (tagged spawn:managed) that are not terminated: id, type, state, job, launch time",
       cmd_aws_list},
      {"aws cleanup", "[--region R] [--job JOB] [--yes] [--dry-run] [--json]",
       "terminate spawn's EC2 instances that are left and delete multi-node jobs' placement/security groups (asks "
       "first; without a terminal only with --yes)",
       cmd_aws_cleanup},
      {"aws policy", "[--for user|instance] [--region R] [--config FILE]",
       "the least-privilege IAM policy (JSON) for whoever runs spawn, from the operations the client sends",
       cmd_aws_policy},
      {"aws setup", "[--region R] [--bucket NAME] [--expire-days N] [--dry-run] [--config FILE]",
       "create what is missing, idempotently: the S3 bucket (public access blocked, encrypted, spawn's objects "
       "expiring), a security group for the instances (no inbound), the instance role and profile; prints the "
       "config lines naming them",
       cmd_aws_setup},
      {"config", "show|path [--config FILE] [--config-profile NAME] [--json]",
       "every setting with its value and where it came from (show), or the file spawn reads (path)", cmd_config},
  };
  return table;
}

namespace {

void print_help(std::ostream& out) {
  out << "spawn: run existing Slurm batch scripts on this machine, on AWS EC2, or beside a Slurm cluster.\n\n"
         "Usage: spawn COMMAND [ARGS]\n\nCommands:\n";
  for (const auto& c : commands()) {
    out << "  spawn " << c.name << " " << c.usage << "\n      " << c.summary << "\n";
  }
  out << "\n  spawn --version     version and the providers built in\n"
         "  spawn --help        this text; `spawn COMMAND --help` for one command\n";
}

} // namespace

int run(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    print_help(std::cout);
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "--version") {
    std::cout << "spawn " << SPAWN_VERSION << "\nproviders:\n";
    for (const auto& p : providers::registry())
      std::cout << "  " << p.name << (p.factory ? "" : " (not built yet)") << ": " << p.summary << "\n";
    return 0;
  }
  // Longest command name that matches the leading words.
  const Command* best = nullptr;
  std::size_t best_words = 0;
  for (const auto& c : commands()) {
    std::vector<std::string> words;
    std::string word;
    for (char ch : c.name) {
      if (ch == ' ') {
        words.push_back(word);
        word.clear();
      } else {
        word += ch;
      }
    }
    words.push_back(word);
    if (words.size() > args.size() || words.size() <= best_words) continue;
    bool match = true;
    for (std::size_t i = 0; i < words.size(); ++i) match = match && args[i] == words[i];
    if (match) {
      best = &c;
      best_words = words.size();
    }
  }
  if (!best) {
    std::string known;
    for (const auto& c : commands()) known += std::string(known.empty() ? "" : ", ") + std::string(c.name);
    std::string what;
    for (std::size_t i = 0; i < args.size() && i < 2; ++i) what += (i ? " " : "") + args[i];
    throw Error("unknown command \"" + what + "\" (commands: " + known + "; see spawn --help)").with_exit_status(2);
  }
  std::vector<std::string> rest(args.begin() + static_cast<std::ptrdiff_t>(best_words), args.end());
  if (!rest.empty() && (rest[0] == "--help" || rest[0] == "-h")) {
    std::cout << "Usage: spawn " << best->name << " " << best->usage << "\n" << best->summary << "\n";
    return 0;
  }
  return best->run(rest);
}

} // namespace spawn::cli
