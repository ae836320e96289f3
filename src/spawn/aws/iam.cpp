#include "aws/iam.hpp"

#include "aws/encoding.hpp"
#include "aws/xml.hpp"

namespace spawn::aws {

namespace {

constexpr const char* k_iam_version = "2010-05-08";
constexpr const char* k_iam_signing_region = "us-east-1";  // IAM is global; its endpoint signs for us-east-1

// IAM sends policy documents URL-encoded.
std::string url_decode(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      out += static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += text[i] == '+' ? ' ' : text[i];
    }
  }
  return out;
}

void add_tags(QueryParams& p, const std::vector<Tag>& tags) {
  for (std::size_t i = 0; i < tags.size(); ++i) {
    p.emplace_back("Tags.member." + std::to_string(i + 1) + ".Key", tags[i].key);
    p.emplace_back("Tags.member." + std::to_string(i + 1) + ".Value", tags[i].value);
  }
}

bool no_such_entity(const AwsError& e) { return e.code == "NoSuchEntity"; }

IamRole role_from(const pugi::xml_node& role) {
  return {role.child_value("RoleName"), role.child_value("Arn"), url_decode(role.child_value("AssumeRolePolicyDocument"))};
}

InstanceProfile profile_from(const pugi::xml_node& profile) {
  InstanceProfile out{profile.child_value("InstanceProfileName"), profile.child_value("Arn"), {}};
  for (auto member : profile.child("Roles").children("member")) out.roles.emplace_back(member.child_value("RoleName"));
  return out;
}

} // namespace

Result<std::string> IamClient::call(const std::string& action, QueryParams params) {
  QueryParams fields{{"Action", action}, {"Version", k_iam_version}};
  fields.insert(fields.end(), params.begin(), params.end());
  ServiceRequest r;
  r.service = Service::iam;
  r.operation = action;
  r.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
  r.body = form_encode(fields);
  r.signing_region = k_iam_signing_region;
  auto response = m_session->send(r);
  if (!response) return Failure(response.error());
  return std::move(response->body);
}

namespace {

// The <ActionResult> element of one call's answer (doc keeps it alive).
Result<pugi::xml_node> result_of(IamClient& iam, pugi::xml_document& doc, const std::string& action, QueryParams params) {
  auto body = iam.call(action, std::move(params));
  if (!body) return Failure(body.error());
  auto root = xml::parse(doc, *body, Service::iam, action, k_iam_signing_region);
  if (!root) return Failure(root.error());
  return root->child((action + "Result").c_str());
}

// A Get* call: nullopt when IAM answers NoSuchEntity, else read(<ActionResult>).
template <typename T, typename Read>
Result<std::optional<T>> get_entity(IamClient& iam, const std::string& action, QueryParams params, Read read) {
  pugi::xml_document doc;
  auto result = result_of(iam, doc, action, std::move(params));
  if (!result) {
    if (no_such_entity(result.error())) return std::optional<T>();
    return Failure(result.error());
  }
  return std::optional<T>(read(*result));
}

} // namespace

Result<std::optional<IamRole>> IamClient::get_role(const std::string& name) {
  return get_entity<IamRole>(*this, "GetRole", {{"RoleName", name}},
                             [](const pugi::xml_node& r) { return role_from(r.child("Role")); });
}

Result<IamRole> IamClient::create_role(const std::string& name, const std::string& assume_role_policy,
                                       const std::string& description, const std::vector<Tag>& tags) {
  QueryParams p{{"RoleName", name}, {"AssumeRolePolicyDocument", assume_role_policy}, {"Description", description}};
  add_tags(p, tags);
  pugi::xml_document doc;
  auto result = result_of(*this, doc, "CreateRole", std::move(p));
  if (!result) return Failure(result.error());
  return role_from(result->child("Role"));
}

Result<std::optional<std::string>> IamClient::get_role_policy(const std::string& role, const std::string& policy_name) {
  return get_entity<std::string>(*this, "GetRolePolicy", {{"RoleName", role}, {"PolicyName", policy_name}},
                                 [](const pugi::xml_node& r) { return url_decode(r.child_value("PolicyDocument")); });
}

Result<void> IamClient::put_role_policy(const std::string& role, const std::string& policy_name, const std::string& document) {
  auto body = call("PutRolePolicy", {{"RoleName", role}, {"PolicyName", policy_name}, {"PolicyDocument", document}});
  if (!body) return Failure(body.error());
  return {};
}

Result<std::optional<InstanceProfile>> IamClient::get_instance_profile(const std::string& name) {
  return get_entity<InstanceProfile>(*this, "GetInstanceProfile", {{"InstanceProfileName", name}},
                                     [](const pugi::xml_node& r) { return profile_from(r.child("InstanceProfile")); });
}

Result<InstanceProfile> IamClient::create_instance_profile(const std::string& name, const std::vector<Tag>& tags) {
  QueryParams p{{"InstanceProfileName", name}};
  add_tags(p, tags);
  pugi::xml_document doc;
  auto result = result_of(*this, doc, "CreateInstanceProfile", std::move(p));
  if (!result) return Failure(result.error());
  return profile_from(result->child("InstanceProfile"));
}

Result<void> IamClient::add_role_to_instance_profile(const std::string& profile, const std::string& role) {
  auto body = call("AddRoleToInstanceProfile", {{"InstanceProfileName", profile}, {"RoleName", role}});
  if (!body) return Failure(body.error());
  return {};
}

} // namespace spawn::aws
