#pragma once
// A multi-node task on EC2 (a "cohort"): N instances launched all-or-nothing in a placement group, found by each
// other through a per-task cohort object in S3 that the client writes once RunInstances has answered with their
// private addresses, and joined by an sshd of spawn's own on each node (port 2222, the job's host key, the job's
// user key as the only authorized key), so `srun` and `mpirun` on node 0 reach every node. The pure parts live
// here (node order and names, the cohort text, the ssh files, the bootstrap's cohort functions); the launch itself
// is the AWS provider's (aws_provider.cpp). See docs/aws.md, "Multi-node (MPI) jobs".
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "aws/ec2.hpp"
#include "util/error.hpp"

namespace spawn::providers::aws {

// The port of spawn's own sshd on every node of a cohort (the AMI's sshd on 22 is left alone).
inline constexpr int k_cohort_ssh_port = 2222;

struct CohortNode {
  std::uint32_t rank = 0;    // SLURM_NODEID: position in the node list; rank 0 runs the batch script
  int launch_index = 0;      // the instance's ami-launch-index (how it finds its line)
  std::string name;          // "ip-10-0-0-5": EC2's IP-based host name
  std::string ip;            // "10.0.0.5"
  std::string instance_id;
};

// EC2's IP-based host name of a private IPv4 address: "10.0.0.5" -> "ip-10-0-0-5"; an error names a bad address.
Expected<std::string> node_name_from_ip(const std::string& ip);

// The nodes of a cohort in Slurm's order: sorted by private address (numerically), rank = position. An error when
// an instance has no private address or two share one.
Expected<std::vector<CohortNode>> cohort_nodes(const std::vector<spawn::aws::Instance>& instances);

// The node names in rank order.
std::vector<std::string> node_names(const std::vector<CohortNode>& nodes);

// The cohort object each node polls for (plain text): the ssh port, the presigned GET of the task's exit marker
// (the other nodes power off once it exists), one line per node "node RANK LAUNCH_INDEX NAME IP".
std::string cohort_text(const std::vector<CohortNode>& nodes, const std::string& done_url);

// The ssh client configuration of the job (ssh -F): every node by name to its address on k_cohort_ssh_port, as
// root, with the job's key, the job's host key as the only known one. `dir` is the task directory on the node.
std::string ssh_client_config(const std::vector<CohortNode>& nodes, const std::string& dir);

// The `ssh` the job's PATH finds first (bin/ssh): ssh with the job's configuration.
std::string ssh_wrapper(const std::string& dir);

// Open MPI's settings for the job (added to its environment): the rsh agent is the job's ssh, the hostfile the
// task's, and running as root allowed (the bootstrap runs as root, as cloud-init does).
std::vector<std::pair<std::string, std::string>> mpi_environment(const std::string& dir, const std::string& hostfile);

// Writes the job's two ed25519 keys into dir with ssh-keygen (private files 0600): id_ed25519 (the user key; its
// .pub is the only authorized key) and host_ed25519 (every node's sshd host key; its .pub is the only known host
// key), plus authorized_keys and known_hosts. The private keys never leave dir except inside the task bundle.
Expected<void> make_job_keys(const std::filesystem::path& dir, const std::string& comment);

// Adds what a cohort's task directory `stage` needs beyond the runtime's files: the job's keys from keys_dir
// (ssh/, mode 0600), ssh/config and bin/ssh for `dir` (the task directory on the node), and the settings the srun
// shim reads to send tasks to the other nodes (SPAWN_RT_SSH, SPAWN_RT_ROOT = root, the nodes' task root).
Expected<void> write_cohort_files(const std::filesystem::path& stage, const std::filesystem::path& keys_dir,
                                  const std::vector<CohortNode>& nodes, const std::string& dir, const std::string& root);

// The placement group's and the security group's name for one task attempt: "spawn-JOB-TASK-RANDOM".
std::string cohort_group_name(std::uint64_t job_id, const std::string& task_name, const std::string& random);

// The bash functions the bootstrap calls in cohort mode (see bootstrap.cpp): cohort_join (wait for the cohort
// object, learn rank, name and address), cohort_sshd (start the node's sshd), cohort_wait_peers (node 0: until
// every node answers over ssh) and cohort_serve (the other nodes: serve until the task's marker exists, then off).
std::string_view cohort_bootstrap_functions();

} // namespace spawn::providers::aws
