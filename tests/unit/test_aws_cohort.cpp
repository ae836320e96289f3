#include <gtest/gtest.h>

#include <filesystem>

#include "core/plan.hpp"
#include "providers/aws/bootstrap.hpp"
#include "providers/aws/cohort.hpp"
#include "runtime/environment.hpp"
#include "runtime/task_dir.hpp"
#include "util/files.hpp"

using namespace spawn;
using namespace spawn::providers::aws;

namespace {

spawn::aws::Instance instance(std::string id, int launch_index, std::string ip) {
  spawn::aws::Instance i;
  i.id = std::move(id);
  i.launch_index = launch_index;
  i.private_ip = std::move(ip);
  return i;
}

// Three instances as RunInstances may answer: launch order is not address order.
std::vector<CohortNode> three_nodes() {
  auto nodes = cohort_nodes({instance("i-a", 0, "10.0.1.7"), instance("i-b", 1, "10.0.0.5"), instance("i-c", 2, "10.0.0.10")});
  EXPECT_TRUE(nodes.has_value());
  return nodes.value_or(std::vector<CohortNode>{});
}

} // namespace

TEST(AwsCohort, NodeNamesAreEc2sIpBasedHostNames) {
  EXPECT_EQ(node_name_from_ip("10.0.0.5").value(), "ip-10-0-0-5");
  EXPECT_EQ(node_name_from_ip("172.31.255.254").value(), "ip-172-31-255-254");
  EXPECT_EQ(node_name_from_ip("10.0.0").error(), "not a private IPv4 address: \"10.0.0\"");
  EXPECT_EQ(node_name_from_ip("10.0.0.256").error(), "not a private IPv4 address: \"10.0.0.256\"");
  EXPECT_FALSE(node_name_from_ip("").has_value());
}

TEST(AwsCohort, RanksFollowTheAddressesNumerically) {
  auto nodes = three_nodes();
  ASSERT_EQ(nodes.size(), 3u);
  EXPECT_EQ(node_names(nodes), (std::vector<std::string>{"ip-10-0-0-5", "ip-10-0-0-10", "ip-10-0-1-7"}));
  EXPECT_EQ(nodes[0].instance_id, "i-b");
  EXPECT_EQ(nodes[0].launch_index, 1);
  EXPECT_EQ(nodes[2].rank, 2u);
  EXPECT_EQ(nodes[2].launch_index, 0);
}

TEST(AwsCohort, AnInstanceWithoutAnAddressOrTwoSharingOneIsAnError) {
  EXPECT_EQ(cohort_nodes({instance("i-a", 0, "10.0.0.5"), instance("i-b", 1, "")}).error(),
            "instance i-b has no private IPv4 address (\"\")");
  EXPECT_EQ(cohort_nodes({instance("i-a", 0, "10.0.0.5"), instance("i-b", 1, "10.0.0.5")}).error(),
            "two instances share the address 10.0.0.5");
}

TEST(AwsCohort, CohortText) {
  EXPECT_EQ(cohort_text(three_nodes(), "https://b.s3/marker?X-Amz-Signature=1"),
            "# spawn cohort: the nodes of one multi-node task (node RANK LAUNCH_INDEX NAME IP)\n"
            "port 2222\n"
            "done_url https://b.s3/marker?X-Amz-Signature=1\n"
            "node 0 1 ip-10-0-0-5 10.0.0.5\n"
            "node 1 2 ip-10-0-0-10 10.0.0.10\n"
            "node 2 0 ip-10-0-1-7 10.0.1.7\n");
}

TEST(AwsCohort, SshConfigNamesEveryNodeAndTrustsOnlyTheJobsHostKey) {
  auto text = ssh_client_config(three_nodes(), "/var/tmp/spawn/0.1");
  EXPECT_NE(text.find("Host ip-10-0-0-10\n  HostName 10.0.0.10\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  Port 2222\n  User root\n  IdentityFile /var/tmp/spawn/0.1/ssh/id_ed25519\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  UserKnownHostsFile /var/tmp/spawn/0.1/ssh/known_hosts\n  GlobalKnownHostsFile /dev/null\n"
                      "  StrictHostKeyChecking yes\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(ssh_wrapper("/d"), "#!/bin/sh\n# spawn: ssh to the other nodes of this job\nexec /usr/bin/ssh -F '/d/ssh/config' \"$@\"\n");
}

// What the batch script on node 0 sees: the environment Slurm gives a batch job on three nodes, and the hostfile.
TEST(AwsCohort, NodeListAndHostfileOfTheBatchStep) {
  Plan plan;
  plan.job_name = "mpi";
  plan.nodes = 3;
  plan.ntasks_per_node = 2;
  plan.ntasks = 6;
  plan.ntasks_requested = true;
  runtime::TaskIdentity id;
  id.job_id = id.task_job_id = 12;
  id.node_names = node_names(three_nodes());
  auto env = runtime::task_environment(plan, id, {});
  EXPECT_EQ(env["SLURM_JOB_NODELIST"], "ip-10-0-0-[5,10],ip-10-0-1-7");
  EXPECT_EQ(env["SLURM_NODELIST"], env["SLURM_JOB_NODELIST"]);
  EXPECT_EQ(env["SLURM_NNODES"], "3");
  EXPECT_EQ(env["SLURM_JOB_NUM_NODES"], "3");
  EXPECT_EQ(env["SLURM_NODEID"], "0");
  EXPECT_EQ(env["SLURMD_NODENAME"], "ip-10-0-0-5");
  EXPECT_EQ(env["SLURM_TASKS_PER_NODE"], "2(x3)");
  EXPECT_EQ(env["SLURM_NTASKS"], "6");

  auto dir = std::filesystem::temp_directory_path() / ("spawn-cohort-test-" + std::to_string(::getpid()));
  ASSERT_TRUE(runtime::write_task_dir(dir, runtime::make_task_spec(plan, id), env).has_value());
  EXPECT_EQ(util::read_file(dir / "hostfile").value(), "ip-10-0-0-5 slots=2\nip-10-0-0-10 slots=2\nip-10-0-1-7 slots=2\n");
  std::filesystem::remove_all(dir);
}

TEST(AwsCohort, OpenMpiFindsTheJobsSshAndHostfile) {
  auto env = mpi_environment("/r/0.1", "/r/0.1/hostfile");
  std::map<std::string, std::string> m(env.begin(), env.end());
  EXPECT_EQ(m["OMPI_MCA_plm_rsh_agent"], "/r/0.1/bin/ssh");
  EXPECT_EQ(m["OMPI_MCA_orte_default_hostfile"], "/r/0.1/hostfile");
  EXPECT_EQ(m["OMPI_ALLOW_RUN_AS_ROOT"], "1");
}

TEST(AwsCohort, BootstrapCarriesTheCohortPartOnlyForCohorts) {
  BootstrapSettings single;
  single.manifest_url = "https://m";
  EXPECT_EQ(bootstrap_script(single).find("cohort_join()"), std::string::npos);
  EXPECT_NE(bootstrap_script(single).find("cohort_url=\n"), std::string::npos);
  BootstrapSettings cohort = single;
  cohort.cohort_url = "https://c?a=1&b='2'";
  auto text = bootstrap_script(cohort);
  EXPECT_NE(text.find("cohort_url='https://c?a=1&b='\\''2'\\'''\n"), std::string::npos);
  EXPECT_NE(text.find("cohort_join()"), std::string::npos);
  EXPECT_EQ(cohort_group_name(12, "0.1", "ab12"), "spawn-12-0.1-ab12");
}

TEST(AwsCohort, JobKeysAreMadeWithSshKeygen) {
  auto dir = std::filesystem::temp_directory_path() / ("spawn-cohort-keys-" + std::to_string(::getpid()));
  auto made = make_job_keys(dir, "spawn-job-12");
  ASSERT_TRUE(made.has_value()) << made.error();
  auto key = util::read_file(dir / "id_ed25519").value();
  EXPECT_NE(key.find("BEGIN OPENSSH PRIVATE KEY"), std::string::npos);
  EXPECT_EQ(std::filesystem::status(dir / "id_ed25519").permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  EXPECT_EQ(util::read_file(dir / "authorized_keys").value(), util::read_file(dir / "id_ed25519.pub").value());
  auto known = util::read_file(dir / "known_hosts").value();
  EXPECT_EQ(known, "* " + util::read_file(dir / "host_ed25519.pub").value());
  EXPECT_NE(known.find("ssh-ed25519 "), std::string::npos);
  std::filesystem::remove_all(dir);
}
