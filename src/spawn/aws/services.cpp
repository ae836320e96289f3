#include "aws/services.hpp"

#include <pugixml.hpp>

#include "aws/encoding.hpp"
#include "aws/xml.hpp"

namespace spawn::aws {

Result<CallerIdentity> StsClient::get_caller_identity() {
  ServiceRequest r;
  r.service = Service::sts;
  r.operation = "GetCallerIdentity";
  r.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
  r.body = form_encode({{"Action", "GetCallerIdentity"}, {"Version", "2011-06-15"}});
  auto response = m_session->send(r);
  if (!response) return Failure(response.error());
  pugi::xml_document doc;
  auto root = xml::parse(doc, response->body, Service::sts, "GetCallerIdentity", m_session->region());
  if (!root) return Failure(root.error());
  auto result = root->child("GetCallerIdentityResult");
  return CallerIdentity{result.child_value("Account"), result.child_value("Arn"), result.child_value("UserId")};
}

Result<nlohmann::json> call_json(Session& session, Service service, const std::string& target_prefix,
                                 const std::string& operation, const nlohmann::json& body,
                                 const std::optional<std::string>& signing_region) {
  ServiceRequest r;
  r.service = service;
  r.operation = operation;
  r.headers = {{"Content-Type", "application/x-amz-json-1.1"}, {"X-Amz-Target", target_prefix + "." + operation}};
  r.body = body.dump();
  r.signing_region = signing_region;
  auto response = session.send(r);
  if (!response) return Failure(response.error());
  auto json = nlohmann::json::parse(response->body, nullptr, false);
  if (json.is_discarded() || !json.is_object()) {
    AwsError e;
    e.kind = ErrorKind::parse;
    e.service = to_string(service);
    e.operation = operation;
    e.region = signing_region.value_or(session.region());
    e.message = "answer is not a JSON object";
    return Failure(e);
  }
  return json;
}

Result<Parameter> SsmClient::get_parameter(const std::string& name, bool with_decryption) {
  nlohmann::json body{{"Name", name}};
  if (with_decryption) body["WithDecryption"] = true;
  auto json = call_json(*m_session, Service::ssm, "AmazonSSM", "GetParameter", body);
  if (!json) return Failure(json.error());
  const auto& p = (*json)["Parameter"];
  if (!p.is_object() || !p.contains("Value")) {
    AwsError e;
    e.kind = ErrorKind::parse;
    e.service = "ssm";
    e.operation = "GetParameter";
    e.region = m_session->region();
    e.message = "answer for parameter " + name + " has no Parameter.Value";
    return Failure(e);
  }
  Parameter out;
  out.name = p.value("Name", name);
  out.value = p.value("Value", "");
  out.type = p.value("Type", "");
  out.version = p.value("Version", 0LL);
  return out;
}

std::string PricingClient::pricing_region() const {
  const auto& r = m_session->region();
  if (r == "us-east-1" || r == "eu-central-1" || r == "ap-south-1") return r;
  return "us-east-1";
}

Result<std::vector<nlohmann::json>> PricingClient::get_products(const std::string& service_code,
                                                                const std::vector<PriceFilter>& filters,
                                                                std::optional<int> max_pages) {
  std::vector<nlohmann::json> out;
  std::string next_token;
  int pages = 0;
  do {
    nlohmann::json body{{"ServiceCode", service_code}, {"FormatVersion", "aws_v1"}, {"MaxResults", 100}};
    nlohmann::json f = nlohmann::json::array();
    for (const auto& filter : filters) f.push_back({{"Type", "TERM_MATCH"}, {"Field", filter.field}, {"Value", filter.value}});
    if (!f.empty()) body["Filters"] = f;
    if (!next_token.empty()) body["NextToken"] = next_token;
    auto json = call_json(*m_session, Service::pricing, "AWSPriceListService", "GetProducts", body, pricing_region());
    if (!json) return Failure(json.error());
    if (json->contains("PriceList") && (*json)["PriceList"].is_array())
      for (const auto& item : (*json)["PriceList"]) {
        // Each entry is a JSON document sent as a string.
        auto parsed = item.is_string() ? nlohmann::json::parse(item.get<std::string>(), nullptr, false) : item;
        if (!parsed.is_discarded()) out.push_back(std::move(parsed));
      }
    next_token = json->contains("NextToken") && (*json)["NextToken"].is_string() ? (*json)["NextToken"].get<std::string>() : "";
    ++pages;
  } while (!next_token.empty() && (!max_pages || pages < *max_pages));
  return out;
}

} // namespace spawn::aws
