// The IAM permission table against the operations the client really sends, and the policy built from it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "aws/permissions.hpp"

using namespace spawn::aws;

namespace {

// Every operation named in the client's sources: call("X"), operation = "X", S3's object_request("X", ...) and
// its kin, and the JSON services' targets.
std::set<std::string> operations_in_client() {
  std::filesystem::path dir = std::filesystem::path(SPAWN_TEST_DATA) / ".." / ".." / "src" / "spawn" / "aws";
  const std::regex patterns[] = {std::regex(R"(\bcall\("([A-Z][A-Za-z0-9]+)\")"),
                                 std::regex(R"(operation = \"([A-Z][A-Za-z0-9]+)\")"),
                                 std::regex(R"(\b[a-z]+_request\("([A-Z][A-Za-z0-9]+)\")"),
                                 std::regex(R"(\"(?:AmazonSSM|AWSPriceListService)\", \"([A-Z][A-Za-z0-9]+)\")")};
  std::set<std::string> out;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".cpp") continue;
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    std::string s = text.str();
    for (const auto& re : patterns)
      for (auto it = std::sregex_iterator(s.begin(), s.end(), re); it != std::sregex_iterator(); ++it)
        out.insert((*it)[1]);
  }
  return out;
}

} // namespace

TEST(AwsPermissions, EveryOperationTheClientSendsHasARow) {
  auto ops = operations_in_client();
  ASSERT_GE(ops.size(), 15u); // the scan found the client
  for (const auto& op : {"RunInstances", "TerminateInstances", "PutObject", "GetParameter", "GetProducts", "UploadPart",
                         "AbortMultipartUpload"})
    EXPECT_TRUE(ops.count(op)) << op;
  for (const auto& op : ops) {
    bool found = false;
    for (const auto& p : client_permissions()) found = found || p.operation == op;
    EXPECT_TRUE(found) << op << " is sent by the client but has no row in aws/permissions.cpp";
  }
}

TEST(AwsPermissions, PolicyAllowsEveryActionOfTheTable) {
  PolicyInputs in;
  in.bucket = "lab";
  in.instance_profile = true;
  auto doc = user_policy(in);
  std::set<std::string> allowed;
  for (const auto& s : doc["Statement"])
    for (const auto& a : s["Action"]) allowed.insert(a.get<std::string>());
  for (const auto& p : client_permissions()) {
    if (p.scope == Scope::none) continue; // sts:GetCallerIdentity needs no permission
    EXPECT_TRUE(allowed.count(std::string(p.action))) << p.action;
  }
  EXPECT_TRUE(allowed.count("iam:PassRole"));
  EXPECT_FALSE(allowed.count("sts:GetCallerIdentity"));
  for (const auto& s : doc["Statement"]) {
    if (s["Sid"] == "SpawnObjects") {
      EXPECT_EQ(s["Resource"], "arn:aws:s3:::lab/spawn/*");
    }
    if (s["Sid"] == "SpawnManagedOnly") {
      EXPECT_EQ(s["Condition"]["StringEquals"]["ec2:ResourceTag/spawn:managed"], "true");
    }
  }
}
