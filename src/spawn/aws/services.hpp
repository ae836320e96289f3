#pragma once
// STS GetCallerIdentity (Query 2011-06-15), SSM GetParameter and Pricing GetProducts (JSON 1.1).
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "aws/session.hpp"

namespace spawn::aws {

struct CallerIdentity {
  std::string account;
  std::string arn;
  std::string user_id;
};

class StsClient {
public:
  explicit StsClient(std::shared_ptr<Session> session) : m_session(std::move(session)) {}
  // Who the credentials belong to (the cheapest way to test that they work).
  Result<CallerIdentity> get_caller_identity();

private:
  std::shared_ptr<Session> m_session;
};

struct Parameter {
  std::string name;
  std::string value;
  std::string type;  // "String", "StringList", "SecureString"
  long long version = 0;
};

// Sends one JSON 1.1 request (X-Amz-Target = target_prefix.operation) and parses the answer.
Result<nlohmann::json> call_json(Session& session, Service service, const std::string& target_prefix,
                                 const std::string& operation, const nlohmann::json& body,
                                 const std::optional<std::string>& signing_region = std::nullopt);

class SsmClient {
public:
  explicit SsmClient(std::shared_ptr<Session> session) : m_session(std::move(session)) {}
  // One parameter ("/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"); a missing one is an
  // AwsError with code ParameterNotFound.
  Result<Parameter> get_parameter(const std::string& name, bool with_decryption = false);

private:
  std::shared_ptr<Session> m_session;
};

// A Pricing filter; type is always TERM_MATCH.
struct PriceFilter {
  std::string field;  // "instanceType", "location", "operatingSystem", ...
  std::string value;
};

class PricingClient {
public:
  // Pricing answers in us-east-1, eu-central-1 and ap-south-1; others are sent to us-east-1.
  explicit PricingClient(std::shared_ptr<Session> session) : m_session(std::move(session)) {}
  // Every price list document (each a JSON object) for service_code ("AmazonEC2") matching filters, all pages.
  Result<std::vector<nlohmann::json>> get_products(const std::string& service_code, const std::vector<PriceFilter>& filters,
                                                   std::optional<int> max_pages = std::nullopt);
  // The region Pricing requests go to.
  std::string pricing_region() const;

private:
  std::shared_ptr<Session> m_session;
};

} // namespace spawn::aws
