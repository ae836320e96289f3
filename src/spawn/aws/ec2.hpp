#pragma once
// Typed EC2 operations (Query API, Version 2016-11-15) the AWS provider needs. Lists are sent flattened with the
// model's query names (InstanceId.1, Filter.1.Value.1, TagSpecification.1.Tag.1.Key); tests/unit/
// test_aws_conformance.cpp checks every request against botocore's EC2 model.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "aws/session.hpp"

namespace spawn::aws {

using QueryParams = std::vector<std::pair<std::string, std::string>>;

struct Tag {
  std::string key;
  std::string value;
  bool operator==(const Tag&) const = default;
};

// A Describe* filter: Name=tag:spawn:job, Values={"7"}.
struct Filter {
  std::string name;
  std::vector<std::string> values;
};

enum class MarketType { on_demand, spot };
enum class InstanceState { pending, running, shutting_down, terminated, stopping, stopped, unknown };
// EC2's spelling: "pending", "running", "shutting-down", "terminated", "stopping", "stopped".
const char* to_string(InstanceState state);
InstanceState instance_state_from_string(std::string_view text);

struct RunInstancesRequest {
  std::string image_id;
  std::string instance_type;
  int min_count = 1;  // min == max: all or nothing
  int max_count = 1;
  std::string user_data;                      // raw bytes (script or gzip); the client base64-encodes
  MarketType market = MarketType::on_demand;
  std::optional<std::string> spot_max_price;  // USD per hour as text; nullopt: the on-demand price cap
  bool terminate_on_shutdown = true;          // InstanceInitiatedShutdownBehavior=terminate
  std::string client_token;                   // idempotency; empty: a random one, reused across retries
  std::vector<Tag> tags;                      // on the instances and their volumes
  std::optional<std::string> availability_zone;
  std::optional<std::string> placement_group;
  std::optional<std::string> iam_instance_profile;  // instance profile name
  std::optional<std::string> subnet_id;
  std::vector<std::string> security_group_ids;
  std::optional<std::string> key_name;
  std::optional<int> root_volume_gib;
  std::string root_device_name = "/dev/xvda";
  std::string root_volume_type = "gp3";
  bool imdsv2_required = true;  // MetadataOptions.HttpTokens=required
  // One Elastic Fabric Adapter as the primary interface (NetworkInterface.1 with InterfaceType=efa); it then carries
  // the subnet and the security groups, which are not sent beside it.
  bool efa_interface = false;
};

struct Instance {
  std::string id;
  std::string instance_type;
  std::string image_id;
  InstanceState state = InstanceState::unknown;
  int state_code = 0;
  int launch_index = 0;
  std::string availability_zone;
  std::string placement_group;
  std::string private_ip;
  std::string public_ip;
  std::string launch_time;     // ISO 8601 as EC2 sent it
  bool spot = false;           // instanceLifecycle == spot
  std::string state_reason_code;
  std::string state_reason_message;
  std::string client_token;
  std::string subnet_id;
  std::vector<Tag> tags;
  // The value of tag key, or empty.
  std::string tag(std::string_view key) const;
};

struct Reservation {
  std::string reservation_id;
  std::vector<Instance> instances;
};

struct DescribeInstancesRequest {
  std::vector<std::string> instance_ids;  // batched by the client; with ids, no MaxResults is sent
  std::vector<Filter> filters;
  std::optional<int> max_results;         // per page (5..1000)
};

struct InstanceStateChange {
  std::string instance_id;
  InstanceState previous = InstanceState::unknown;
  InstanceState current = InstanceState::unknown;
};

// One kind of accelerator device on an instance type, as DescribeInstanceTypes lists it.
struct AcceleratorInfo {
  std::string info;          // which list it came from: "gpu", "inference", "neuron", "fpga", "media"
  std::string name;          // "T4", "Inferentia", "Trainium2", "Virtex UltraScale (VU9P)"
  std::string manufacturer;  // "NVIDIA", "AMD", "AWS", "Xilinx", "Habana" (empty for neuron devices)
  int count = 0;
  std::uint64_t memory_mib = 0;  // per device; 0 when not given
};

struct InstanceTypeInfo {
  std::string instance_type;
  bool current_generation = false;
  int vcpus = 0;
  std::uint64_t memory_mib = 0;
  std::vector<std::string> architectures;   // "x86_64", "arm64"
  std::vector<std::string> usage_classes;   // "on-demand", "spot"
  int gpu_count = 0;
  std::string gpu_name;                     // "T4"
  std::string gpu_manufacturer;             // "NVIDIA"
  std::uint64_t gpu_memory_mib = 0;         // per GPU
  bool efa_supported = false;
  std::string network_performance;
  bool burstable = false;                    // burstablePerformanceSupported
  std::vector<AcceleratorInfo> accelerators; // every device list: gpuInfo, inferenceAcceleratorInfo, neuronInfo, ...
};

struct AvailabilityZone {
  std::string name;  // "us-east-1a" (the names are shuffled per account)
  std::string id;    // "use1-az4" (the same physical zone in every account)
  std::string state; // "available"
};

struct SpotPrice {
  std::string instance_type;
  std::string availability_zone;
  std::string product_description;
  std::string price;      // USD per hour as EC2 sends it ("0.031200")
  std::string timestamp;  // ISO 8601
};

struct DescribeSpotPriceHistoryRequest {
  std::vector<std::string> instance_types;
  std::vector<std::string> product_descriptions = {"Linux/UNIX"};
  std::optional<std::chrono::system_clock::time_point> start_time;  // nullopt: only the current prices
  std::optional<std::string> availability_zone;
  std::optional<int> max_results;
};

struct IngressRule {
  std::string protocol = "tcp";  // "tcp", "udp", "icmp", "-1" (all)
  int from_port = 0;
  int to_port = 0;
  std::vector<std::string> cidrs;             // "10.0.0.0/16"
  std::vector<std::string> source_group_ids;  // "sg-..." (a group open to itself names itself)
};

struct SecurityGroup {
  std::string id;
  std::string name;
  std::string description;
  std::string vpc_id;
  std::vector<Tag> tags;
};

struct PlacementGroup {
  std::string name;
  std::string strategy;
  std::string state;
  std::vector<Tag> tags;
};

struct Subnet {
  std::string id;
  std::string vpc_id;
  std::string availability_zone;
  std::string availability_zone_id;
  std::string cidr;
  int available_ips = 0;
  bool default_for_az = false;
  bool map_public_ip = false;
};

struct Vpc {
  std::string id;
  std::string cidr;
  bool is_default = false;
};

class Ec2Client {
public:
  explicit Ec2Client(std::shared_ptr<Session> session) : m_session(std::move(session)) {}

  // Launches instances; retries reuse the request's ClientToken so EC2 never starts them twice.
  Result<Reservation> run_instances(RunInstancesRequest request);
  // Every instance matching request, following NextToken and batching instance ids (200 per call).
  Result<std::vector<Instance>> describe_instances(const DescribeInstancesRequest& request);
  // Terminates instances (batches of 500); the state changes EC2 reports.
  Result<std::vector<InstanceStateChange>> terminate_instances(const std::vector<std::string>& instance_ids);
  // Adds or overwrites tags on resources (batches of 500).
  Result<void> create_tags(const std::vector<std::string>& resource_ids, const std::vector<Tag>& tags);
  // Instance type facts, all pages; empty types: every type in the region.
  Result<std::vector<InstanceTypeInfo>> describe_instance_types(const std::vector<std::string>& instance_types,
                                                                const std::vector<Filter>& filters = {});
  // The region's availability zones (names and zone ids).
  Result<std::vector<AvailabilityZone>> describe_availability_zones();
  // Spot price history, all pages.
  Result<std::vector<SpotPrice>> describe_spot_price_history(const DescribeSpotPriceHistoryRequest& request);
  // Creates a placement group (strategy "cluster", "spread" or "partition").
  Result<void> create_placement_group(const std::string& name, const std::string& strategy, const std::vector<Tag>& tags = {});
  Result<void> delete_placement_group(const std::string& name);
  // Placement groups matching filters ("tag:spawn:managed").
  Result<std::vector<PlacementGroup>> describe_placement_groups(const std::vector<Filter>& filters);
  // Creates a security group; returns its id.
  Result<std::string> create_security_group(const std::string& name, const std::string& description,
                                            const std::optional<std::string>& vpc_id, const std::vector<Tag>& tags = {});
  Result<void> delete_security_group(const std::string& group_id);
  Result<void> authorize_security_group_ingress(const std::string& group_id, const std::vector<IngressRule>& rules);
  Result<std::vector<SecurityGroup>> describe_security_groups(const std::vector<std::string>& group_ids,
                                                              const std::vector<Filter>& filters = {});
  Result<std::vector<Subnet>> describe_subnets(const std::vector<std::string>& subnet_ids, const std::vector<Filter>& filters = {});
  Result<std::vector<Vpc>> describe_vpcs(const std::vector<std::string>& vpc_ids, const std::vector<Filter>& filters = {});

  // Sends one Query API action (Action and Version are added) and returns the response body.
  Result<std::string> call(const std::string& action, QueryParams params);

private:
  std::shared_ptr<Session> m_session;
};

} // namespace spawn::aws
