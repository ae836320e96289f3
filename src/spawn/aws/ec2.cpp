#include "aws/ec2.hpp"

#include <algorithm>

#include "aws/encoding.hpp"
#include "aws/xml.hpp"

namespace spawn::aws {

namespace {

constexpr const char* k_ec2_version = "2016-11-15";
constexpr std::size_t k_describe_batch = 200;
constexpr std::size_t k_mutate_batch = 500;

void add_list(QueryParams& p, const std::string& prefix, const std::vector<std::string>& values) {
  for (std::size_t i = 0; i < values.size(); ++i) p.emplace_back(prefix + "." + std::to_string(i + 1), values[i]);
}

void add_filters(QueryParams& p, const std::vector<Filter>& filters) {
  for (std::size_t i = 0; i < filters.size(); ++i) {
    std::string prefix = "Filter." + std::to_string(i + 1);
    p.emplace_back(prefix + ".Name", filters[i].name);
    add_list(p, prefix + ".Value", filters[i].values);
  }
}

void add_tags(QueryParams& p, const std::string& prefix, const std::vector<Tag>& tags) {
  for (std::size_t i = 0; i < tags.size(); ++i) {
    p.emplace_back(prefix + "." + std::to_string(i + 1) + ".Key", tags[i].key);
    p.emplace_back(prefix + "." + std::to_string(i + 1) + ".Value", tags[i].value);
  }
}

void add_tag_specifications(QueryParams& p, const std::vector<std::string>& resource_types, const std::vector<Tag>& tags) {
  if (tags.empty()) return;
  for (std::size_t i = 0; i < resource_types.size(); ++i) {
    std::string prefix = "TagSpecification." + std::to_string(i + 1);
    p.emplace_back(prefix + ".ResourceType", resource_types[i]);
    add_tags(p, prefix + ".Tag", tags);
  }
}

std::vector<Tag> parse_tags(const pugi::xml_node& node) {
  std::vector<Tag> tags;
  for (auto item : node.child("tagSet").children("item")) tags.push_back({item.child_value("key"), item.child_value("value")});
  return tags;
}

Instance parse_instance(const pugi::xml_node& n) {
  Instance i;
  i.id = n.child_value("instanceId");
  i.instance_type = n.child_value("instanceType");
  i.image_id = n.child_value("imageId");
  auto state = n.child("instanceState");
  i.state = instance_state_from_string(state.child_value("name"));
  i.state_code = static_cast<int>(xml::integer(state, "code"));
  i.launch_index = static_cast<int>(xml::integer(n, "amiLaunchIndex"));
  i.availability_zone = n.child("placement").child_value("availabilityZone");
  i.placement_group = n.child("placement").child_value("groupName");
  i.private_ip = n.child_value("privateIpAddress");
  i.public_ip = n.child_value("ipAddress");
  i.launch_time = n.child_value("launchTime");
  i.spot = std::string_view(n.child_value("instanceLifecycle")) == "spot";
  i.state_reason_code = n.child("stateReason").child_value("code");
  i.state_reason_message = n.child("stateReason").child_value("message");
  i.client_token = n.child_value("clientToken");
  i.subnet_id = n.child_value("subnetId");
  i.tags = parse_tags(n);
  return i;
}

template <typename T> std::vector<std::vector<T>> chunks(const std::vector<T>& items, std::size_t size) {
  std::vector<std::vector<T>> out;
  for (std::size_t i = 0; i < items.size(); i += size)
    out.emplace_back(items.begin() + static_cast<std::ptrdiff_t>(i),
                     items.begin() + static_cast<std::ptrdiff_t>(std::min(items.size(), i + size)));
  return out;
}

} // namespace

const char* to_string(InstanceState state) {
  switch (state) {
  case InstanceState::pending: return "pending";
  case InstanceState::running: return "running";
  case InstanceState::shutting_down: return "shutting-down";
  case InstanceState::terminated: return "terminated";
  case InstanceState::stopping: return "stopping";
  case InstanceState::stopped: return "stopped";
  case InstanceState::unknown: return "unknown";
  }
  return "unknown";
}

InstanceState instance_state_from_string(std::string_view text) {
  for (auto s : {InstanceState::pending, InstanceState::running, InstanceState::shutting_down, InstanceState::terminated,
                 InstanceState::stopping, InstanceState::stopped})
    if (text == to_string(s)) return s;
  return InstanceState::unknown;
}

std::string Instance::tag(std::string_view key) const {
  for (const auto& t : tags)
    if (t.key == key) return t.value;
  return {};
}

Result<std::string> Ec2Client::call(const std::string& action, QueryParams params) {
  QueryParams fields{{"Action", action}, {"Version", k_ec2_version}};
  fields.insert(fields.end(), params.begin(), params.end());
  ServiceRequest r;
  r.service = Service::ec2;
  r.operation = action;
  r.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
  r.body = form_encode(fields);
  auto response = m_session->send(r);
  if (!response) return Failure(response.error());
  return std::move(response->body);
}

Result<Reservation> Ec2Client::run_instances(RunInstancesRequest request) {
  if (request.client_token.empty()) request.client_token = random_uuid();
  QueryParams p;
  p.emplace_back("ImageId", request.image_id);
  p.emplace_back("InstanceType", request.instance_type);
  p.emplace_back("MinCount", std::to_string(request.min_count));
  p.emplace_back("MaxCount", std::to_string(request.max_count));
  p.emplace_back("ClientToken", request.client_token);
  if (!request.user_data.empty()) p.emplace_back("UserData", base64_encode(request.user_data));
  if (request.terminate_on_shutdown) p.emplace_back("InstanceInitiatedShutdownBehavior", "terminate");
  if (request.market == MarketType::spot) {
    p.emplace_back("InstanceMarketOptions.MarketType", "spot");
    p.emplace_back("InstanceMarketOptions.SpotOptions.SpotInstanceType", "one-time");
    p.emplace_back("InstanceMarketOptions.SpotOptions.InstanceInterruptionBehavior", "terminate");
    if (request.spot_max_price) p.emplace_back("InstanceMarketOptions.SpotOptions.MaxPrice", *request.spot_max_price);
  }
  if (request.availability_zone) p.emplace_back("Placement.AvailabilityZone", *request.availability_zone);
  if (request.placement_group) p.emplace_back("Placement.GroupName", *request.placement_group);
  if (request.iam_instance_profile) p.emplace_back("IamInstanceProfile.Name", *request.iam_instance_profile);
  if (request.efa_interface) {
    p.emplace_back("NetworkInterface.1.DeviceIndex", "0");
    p.emplace_back("NetworkInterface.1.InterfaceType", "efa");
    p.emplace_back("NetworkInterface.1.DeleteOnTermination", "true");
    if (request.subnet_id) p.emplace_back("NetworkInterface.1.SubnetId", *request.subnet_id);
    add_list(p, "NetworkInterface.1.SecurityGroupId", request.security_group_ids);
  } else {
    if (request.subnet_id) p.emplace_back("SubnetId", *request.subnet_id);
    add_list(p, "SecurityGroupId", request.security_group_ids);
  }
  if (request.key_name) p.emplace_back("KeyName", *request.key_name);
  if (request.root_volume_gib) {
    p.emplace_back("BlockDeviceMapping.1.DeviceName", request.root_device_name);
    p.emplace_back("BlockDeviceMapping.1.Ebs.VolumeSize", std::to_string(*request.root_volume_gib));
    p.emplace_back("BlockDeviceMapping.1.Ebs.VolumeType", request.root_volume_type);
    p.emplace_back("BlockDeviceMapping.1.Ebs.DeleteOnTermination", "true");
  }
  if (request.imdsv2_required) {
    p.emplace_back("MetadataOptions.HttpTokens", "required");
    p.emplace_back("MetadataOptions.HttpEndpoint", "enabled");
  }
  add_tag_specifications(p, {"instance", "volume"}, request.tags);
  auto body = call("RunInstances", std::move(p));
  if (!body) return Failure(body.error());
  pugi::xml_document doc;
  auto root = xml::parse(doc, *body, Service::ec2, "RunInstances", m_session->region());
  if (!root) return Failure(root.error());
  Reservation r;
  r.reservation_id = root->child_value("reservationId");
  for (auto item : root->child("instancesSet").children("item")) r.instances.push_back(parse_instance(item));
  return r;
}

Result<std::vector<Instance>> Ec2Client::describe_instances(const DescribeInstancesRequest& request) {
  std::vector<Instance> out;
  auto batches = request.instance_ids.empty() ? std::vector<std::vector<std::string>>{{}}
                                              : chunks(request.instance_ids, k_describe_batch);
  for (const auto& ids : batches) {
    std::string next_token;
    do {
      QueryParams p;
      add_list(p, "InstanceId", ids);
      add_filters(p, request.filters);
      if (ids.empty()) p.emplace_back("MaxResults", std::to_string(request.max_results.value_or(1000)));
      if (!next_token.empty()) p.emplace_back("NextToken", next_token);
      auto body = call("DescribeInstances", std::move(p));
      if (!body) return Failure(body.error());
      pugi::xml_document doc;
      auto root = xml::parse(doc, *body, Service::ec2, "DescribeInstances", m_session->region());
      if (!root) return Failure(root.error());
      for (auto reservation : root->child("reservationSet").children("item"))
        for (auto item : reservation.child("instancesSet").children("item")) out.push_back(parse_instance(item));
      next_token = root->child_value("nextToken");
    } while (!next_token.empty());
  }
  return out;
}

Result<std::vector<InstanceStateChange>> Ec2Client::terminate_instances(const std::vector<std::string>& instance_ids) {
  std::vector<InstanceStateChange> out;
  for (const auto& ids : chunks(instance_ids, k_mutate_batch)) {
    QueryParams p;
    add_list(p, "InstanceId", ids);
    auto body = call("TerminateInstances", std::move(p));
    if (!body) return Failure(body.error());
    pugi::xml_document doc;
    auto root = xml::parse(doc, *body, Service::ec2, "TerminateInstances", m_session->region());
    if (!root) return Failure(root.error());
    for (auto item : root->child("instancesSet").children("item"))
      out.push_back({item.child_value("instanceId"), instance_state_from_string(item.child("previousState").child_value("name")),
                     instance_state_from_string(item.child("currentState").child_value("name"))});
  }
  return out;
}

Result<void> Ec2Client::create_tags(const std::vector<std::string>& resource_ids, const std::vector<Tag>& tags) {
  for (const auto& ids : chunks(resource_ids, k_mutate_batch)) {
    QueryParams p;
    add_list(p, "ResourceId", ids);
    add_tags(p, "Tag", tags);
    auto body = call("CreateTags", std::move(p));
    if (!body) return Failure(body.error());
  }
  return {};
}

Result<std::vector<InstanceTypeInfo>> Ec2Client::describe_instance_types(const std::vector<std::string>& instance_types,
                                                                         const std::vector<Filter>& filters) {
  std::vector<InstanceTypeInfo> out;
  auto batches = instance_types.empty() ? std::vector<std::vector<std::string>>{{}} : chunks(instance_types, 100);
  for (const auto& types : batches) {
    std::string next_token;
    do {
      QueryParams p;
      add_list(p, "InstanceType", types);
      add_filters(p, filters);
      if (types.empty()) p.emplace_back("MaxResults", "100");
      if (!next_token.empty()) p.emplace_back("NextToken", next_token);
      auto body = call("DescribeInstanceTypes", std::move(p));
      if (!body) return Failure(body.error());
      pugi::xml_document doc;
      auto root = xml::parse(doc, *body, Service::ec2, "DescribeInstanceTypes", m_session->region());
      if (!root) return Failure(root.error());
      for (auto item : root->child("instanceTypeSet").children("item")) {
        InstanceTypeInfo t;
        t.instance_type = item.child_value("instanceType");
        t.current_generation = xml::boolean(item, "currentGeneration");
        t.vcpus = static_cast<int>(xml::integer(item.child("vCpuInfo"), "defaultVCpus"));
        t.memory_mib = static_cast<std::uint64_t>(xml::integer(item.child("memoryInfo"), "sizeInMiB"));
        t.architectures = xml::items(item.child("processorInfo"), "supportedArchitectures");
        t.usage_classes = xml::items(item, "supportedUsageClasses");
        for (auto gpu : item.child("gpuInfo").child("gpus").children("item")) {
          t.gpu_count += static_cast<int>(xml::integer(gpu, "count"));
          t.gpu_name = gpu.child_value("name");
          t.gpu_manufacturer = gpu.child_value("manufacturer");
          t.gpu_memory_mib = static_cast<std::uint64_t>(xml::integer(gpu.child("memoryInfo"), "sizeInMiB"));
        }
        t.burstable = xml::boolean(item, "burstablePerformanceSupported");
        auto devices = [&](const char* info, pugi::xml_node list) {
          for (auto d : list.children()) {
            if (std::string_view(d.name()) != "item" && std::string_view(d.name()) != "member") continue;
            t.accelerators.push_back({info, d.child_value("name"), d.child_value("manufacturer"),
                                      static_cast<int>(xml::integer(d, "count")),
                                      static_cast<std::uint64_t>(xml::integer(d.child("memoryInfo"), "sizeInMiB"))});
          }
        };
        devices("gpu", item.child("gpuInfo").child("gpus"));
        devices("inference", item.child("inferenceAcceleratorInfo").child("accelerators"));
        devices("neuron", item.child("neuronInfo").child("neuronDevices"));
        devices("fpga", item.child("fpgaInfo").child("fpgas"));
        devices("media", item.child("mediaAcceleratorInfo").child("accelerators"));
        t.efa_supported = xml::boolean(item.child("networkInfo"), "efaSupported");
        t.network_performance = item.child("networkInfo").child_value("networkPerformance");
        out.push_back(std::move(t));
      }
      next_token = root->child_value("nextToken");
    } while (!next_token.empty());
  }
  return out;
}

Result<std::vector<AvailabilityZone>> Ec2Client::describe_availability_zones() {
  auto body = call("DescribeAvailabilityZones", {});
  if (!body) return Failure(body.error());
  pugi::xml_document doc;
  auto root = xml::parse(doc, *body, Service::ec2, "DescribeAvailabilityZones", m_session->region());
  if (!root) return Failure(root.error());
  std::vector<AvailabilityZone> out;
  for (auto item : root->child("availabilityZoneInfo").children("item"))
    out.push_back({item.child_value("zoneName"), item.child_value("zoneId"), item.child_value("zoneState")});
  return out;
}

Result<std::vector<SpotPrice>> Ec2Client::describe_spot_price_history(const DescribeSpotPriceHistoryRequest& request) {
  std::vector<SpotPrice> out;
  std::string next_token;
  do {
    QueryParams p;
    add_list(p, "InstanceType", request.instance_types);
    add_list(p, "ProductDescription", request.product_descriptions);
    auto start = request.start_time.value_or(std::chrono::system_clock::now());
    p.emplace_back("StartTime", format_iso8601(start));
    if (request.availability_zone) p.emplace_back("AvailabilityZone", *request.availability_zone);
    p.emplace_back("MaxResults", std::to_string(request.max_results.value_or(1000)));
    if (!next_token.empty()) p.emplace_back("NextToken", next_token);
    auto body = call("DescribeSpotPriceHistory", std::move(p));
    if (!body) return Failure(body.error());
    pugi::xml_document doc;
    auto root = xml::parse(doc, *body, Service::ec2, "DescribeSpotPriceHistory", m_session->region());
    if (!root) return Failure(root.error());
    for (auto item : root->child("spotPriceHistorySet").children("item"))
      out.push_back({item.child_value("instanceType"), item.child_value("availabilityZone"),
                     item.child_value("productDescription"), item.child_value("spotPrice"), item.child_value("timestamp")});
    next_token = root->child_value("nextToken");
  } while (!next_token.empty());
  return out;
}

Result<void> Ec2Client::create_placement_group(const std::string& name, const std::string& strategy, const std::vector<Tag>& tags) {
  QueryParams p{{"GroupName", name}, {"Strategy", strategy}};
  add_tag_specifications(p, {"placement-group"}, tags);
  auto body = call("CreatePlacementGroup", std::move(p));
  if (!body) return Failure(body.error());
  return {};
}

Result<void> Ec2Client::delete_placement_group(const std::string& name) {
  auto body = call("DeletePlacementGroup", {{"GroupName", name}});
  if (!body) return Failure(body.error());
  return {};
}

Result<std::vector<PlacementGroup>> Ec2Client::describe_placement_groups(const std::vector<Filter>& filters) {
  QueryParams p;
  add_filters(p, filters);
  auto body = call("DescribePlacementGroups", std::move(p));
  if (!body) return Failure(body.error());
  pugi::xml_document doc;
  auto root = xml::parse(doc, *body, Service::ec2, "DescribePlacementGroups", m_session->region());
  if (!root) return Failure(root.error());
  std::vector<PlacementGroup> out;
  for (auto item : root->child("placementGroupSet").children("item"))
    out.push_back({item.child_value("groupName"), item.child_value("strategy"), item.child_value("state"), parse_tags(item)});
  return out;
}

Result<void> Ec2Client::delete_security_group(const std::string& group_id) {
  auto body = call("DeleteSecurityGroup", {{"GroupId", group_id}});
  if (!body) return Failure(body.error());
  return {};
}

Result<std::string> Ec2Client::create_security_group(const std::string& name, const std::string& description,
                                                     const std::optional<std::string>& vpc_id, const std::vector<Tag>& tags) {
  QueryParams p{{"GroupName", name}, {"GroupDescription", description}};
  if (vpc_id) p.emplace_back("VpcId", *vpc_id);
  add_tag_specifications(p, {"security-group"}, tags);
  auto body = call("CreateSecurityGroup", std::move(p));
  if (!body) return Failure(body.error());
  pugi::xml_document doc;
  auto root = xml::parse(doc, *body, Service::ec2, "CreateSecurityGroup", m_session->region());
  if (!root) return Failure(root.error());
  return std::string(root->child_value("groupId"));
}

Result<void> Ec2Client::authorize_security_group_ingress(const std::string& group_id, const std::vector<IngressRule>& rules) {
  QueryParams p{{"GroupId", group_id}};
  for (std::size_t i = 0; i < rules.size(); ++i) {
    std::string prefix = "IpPermissions." + std::to_string(i + 1);
    p.emplace_back(prefix + ".IpProtocol", rules[i].protocol);
    p.emplace_back(prefix + ".FromPort", std::to_string(rules[i].from_port));
    p.emplace_back(prefix + ".ToPort", std::to_string(rules[i].to_port));
    for (std::size_t j = 0; j < rules[i].cidrs.size(); ++j)
      p.emplace_back(prefix + ".IpRanges." + std::to_string(j + 1) + ".CidrIp", rules[i].cidrs[j]);
    for (std::size_t j = 0; j < rules[i].source_group_ids.size(); ++j)
      p.emplace_back(prefix + ".Groups." + std::to_string(j + 1) + ".GroupId", rules[i].source_group_ids[j]);
  }
  auto body = call("AuthorizeSecurityGroupIngress", std::move(p));
  if (!body) return Failure(body.error());
  return {};
}

Result<std::vector<SecurityGroup>> Ec2Client::describe_security_groups(const std::vector<std::string>& group_ids,
                                                                       const std::vector<Filter>& filters) {
  std::vector<SecurityGroup> out;
  std::string next_token;
  do {
    QueryParams p;
    add_list(p, "GroupId", group_ids);
    add_filters(p, filters);
    if (group_ids.empty()) p.emplace_back("MaxResults", "1000");
    if (!next_token.empty()) p.emplace_back("NextToken", next_token);
    auto body = call("DescribeSecurityGroups", std::move(p));
    if (!body) return Failure(body.error());
    pugi::xml_document doc;
    auto root = xml::parse(doc, *body, Service::ec2, "DescribeSecurityGroups", m_session->region());
    if (!root) return Failure(root.error());
    for (auto item : root->child("securityGroupInfo").children("item"))
      out.push_back({item.child_value("groupId"), item.child_value("groupName"), item.child_value("groupDescription"),
                     item.child_value("vpcId"), parse_tags(item)});
    next_token = root->child_value("nextToken");
  } while (!next_token.empty());
  return out;
}

Result<std::vector<Subnet>> Ec2Client::describe_subnets(const std::vector<std::string>& subnet_ids, const std::vector<Filter>& filters) {
  std::vector<Subnet> out;
  std::string next_token;
  do {
    QueryParams p;
    add_list(p, "SubnetId", subnet_ids);
    add_filters(p, filters);
    if (subnet_ids.empty()) p.emplace_back("MaxResults", "1000");
    if (!next_token.empty()) p.emplace_back("NextToken", next_token);
    auto body = call("DescribeSubnets", std::move(p));
    if (!body) return Failure(body.error());
    pugi::xml_document doc;
    auto root = xml::parse(doc, *body, Service::ec2, "DescribeSubnets", m_session->region());
    if (!root) return Failure(root.error());
    for (auto item : root->child("subnetSet").children("item")) {
      Subnet s;
      s.id = item.child_value("subnetId");
      s.vpc_id = item.child_value("vpcId");
      s.availability_zone = item.child_value("availabilityZone");
      s.availability_zone_id = item.child_value("availabilityZoneId");
      s.cidr = item.child_value("cidrBlock");
      s.available_ips = static_cast<int>(xml::integer(item, "availableIpAddressCount"));
      s.default_for_az = xml::boolean(item, "defaultForAz");
      s.map_public_ip = xml::boolean(item, "mapPublicIpOnLaunch");
      out.push_back(std::move(s));
    }
    next_token = root->child_value("nextToken");
  } while (!next_token.empty());
  return out;
}

Result<std::vector<Vpc>> Ec2Client::describe_vpcs(const std::vector<std::string>& vpc_ids, const std::vector<Filter>& filters) {
  std::vector<Vpc> out;
  std::string next_token;
  do {
    QueryParams p;
    add_list(p, "VpcId", vpc_ids);
    add_filters(p, filters);
    if (vpc_ids.empty()) p.emplace_back("MaxResults", "1000");
    if (!next_token.empty()) p.emplace_back("NextToken", next_token);
    auto body = call("DescribeVpcs", std::move(p));
    if (!body) return Failure(body.error());
    pugi::xml_document doc;
    auto root = xml::parse(doc, *body, Service::ec2, "DescribeVpcs", m_session->region());
    if (!root) return Failure(root.error());
    for (auto item : root->child("vpcSet").children("item"))
      out.push_back({item.child_value("vpcId"), item.child_value("cidrBlock"), xml::boolean(item, "isDefault")});
    next_token = root->child_value("nextToken");
  } while (!next_token.empty());
  return out;
}

} // namespace spawn::aws
