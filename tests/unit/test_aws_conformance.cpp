// Every request the AWS client can send, checked against the AWS service models that Debian's python3-botocore
// ships: operation names, parameter names (query names, list flattening, nested structures), required members,
// value types (integers, booleans, enums, timestamps, lengths), JSON 1.1 targets and members, S3 URIs and headers,
// and the SigV4 signing name. The requests are captured by a transport that never sends them.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <pugixml.hpp>

#include "aws/ec2.hpp"
#include "aws/encoding.hpp"
#include "aws/iam.hpp"
#include "aws/s3.hpp"
#include "aws/services.hpp"
#include "util/strings.hpp"

using namespace spawn::aws;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Where Debian's python3-botocore keeps its models; SPAWN_BOTOCORE_DATA overrides.
std::optional<fs::path> botocore_data() {
  std::vector<fs::path> candidates;
  if (const char* dir = std::getenv("SPAWN_BOTOCORE_DATA")) candidates.emplace_back(dir);
  candidates.emplace_back("/usr/lib/python3/dist-packages/botocore/data");
  candidates.emplace_back("/usr/share/python3/botocore/data");
  for (const auto& c : candidates)
    if (fs::exists(c / "ec2")) return c;
  return std::nullopt;
}

json load_model(const std::string& service, const std::string& version) {
  auto data = botocore_data();
  if (!data) return {};
  fs::path plain = *data / service / version / "service-2.json";
  if (fs::exists(plain)) return json::parse(std::ifstream(plain));
  fs::path gz = plain;
  gz += ".gz";
  if (fs::exists(gz)) {
    std::string text;
    if (std::FILE* pipe = ::popen(("gzip -dc '" + gz.string() + "'").c_str(), "r")) {
      char buffer[65536];
      while (auto n = std::fread(buffer, 1, sizeof buffer, pipe)) text.append(buffer, n);
      ::pclose(pipe);
    }
    return json::parse(text);
  }
  return {};
}

// Answers every request with a minimal success document; the first page of a paginated call carries a token so
// the second request (with NextToken / continuation-token) is captured too.
class CapturingTransport final : public Transport {
public:
  spawn::Expected<HttpResponse> send(const HttpRequest& request) override {
    requests.push_back(request);
    HttpResponse r;
    r.status = 200;
    bool paginated = request.body.find("NextToken") != std::string::npos ||
                     request.url.find("continuation-token") != std::string::npos;
    if (request.url.find("list-type=2") != std::string::npos) {
      r.body = paginated ? "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>"
                         : "<ListBucketResult><IsTruncated>true</IsTruncated><NextContinuationToken>t1</NextContinuationToken></ListBucketResult>";
    } else if (!request.headers.empty() && has_header(request, "x-amz-target")) {
      r.body = paginated ? R"({"Parameter":{"Name":"n","Value":"v"},"PriceList":[]})"
                         : R"({"Parameter":{"Name":"n","Value":"v"},"PriceList":[],"NextToken":"t1"})";
    } else if (auto range = ranged(request)) {
      // A ranged GET of a 10-byte object: 206 with the bytes asked for, so that a download asks for the rest.
      r.status = 206;
      r.body = std::string(range->second - range->first + 1, 'x');
      r.headers = {{"content-range", "bytes " + std::to_string(range->first) + "-" + std::to_string(range->second) + "/10"},
                   {"etag", "\"e10\""}};
    } else if (request.body.find("Action=Describe") != std::string::npos && !paginated) {
      r.body = "<R><nextToken>t1</nextToken></R>";
    } else {
      r.body = "<R/>";
    }
    return r;
  }
  // "Range: bytes=FIRST-LAST" within a 10-byte object: FIRST and LAST.
  static std::optional<std::pair<std::uint64_t, std::uint64_t>> ranged(const HttpRequest& request) {
    if (request.method != "GET") return std::nullopt;
    for (const auto& [k, v] : request.headers) {
      if (!spawn::util::iequals(k, "range") || !v.starts_with("bytes=")) continue;
      auto dash = v.find('-');
      auto first = spawn::util::parse_uint(v.substr(6, dash - 6)), last = spawn::util::parse_uint(v.substr(dash + 1));
      if (first && last && *first <= *last && *first < 10) return std::pair{*first, std::min<std::uint64_t>(*last, 9)};
    }
    return std::nullopt;
  }
  static bool has_header(const HttpRequest& request, const std::string& name) {
    for (const auto& [k, v] : request.headers)
      if (spawn::util::iequals(k, name)) return true;
    return false;
  }
  std::vector<HttpRequest> requests;
};

struct Captured {
  std::string operation;  // what the client was asked to do
  HttpRequest request;
};

// A model pattern as std::regex reads it, restricted to ASCII (all spawn sends): the Java classes \p{L}, \p{Z}, \p{N},
// \p{M}, \p{S}, \p{P} become their ASCII members, \uXXXX below 0x80 the character, ranges above ASCII are dropped or
// end at 0x7E. (std::regex would read \p{L} as the letters p, {, L, }.)
std::string ascii_pattern(std::string pattern) {
  pattern = std::regex_replace(pattern, std::regex(R"(\\u00[89A-Fa-f][0-9A-Fa-f]-\\u00[0-9A-Fa-f]{2})"), "");
  pattern = std::regex_replace(pattern, std::regex(R"(\\u00([0-7][0-9A-Fa-f]))"), "\\x$1");
  pattern = std::regex_replace(pattern, std::regex(R"(\\u00[89A-Fa-f][0-9A-Fa-f])"), "\\x7E");  // a range's top
  pattern = spawn::util::replace_all(pattern, "\\p{L}", "a-zA-Z");
  pattern = spawn::util::replace_all(pattern, "\\p{Z}", " ");
  pattern = spawn::util::replace_all(pattern, "\\p{N}", "0-9");
  pattern = spawn::util::replace_all(pattern, "\\p{M}", "");                  // marks: none in ASCII
  pattern = spawn::util::replace_all(pattern, "\\p{S}", "!-/:-@\\[-`{-~");  // symbols and punctuation: ASCII's
  pattern = spawn::util::replace_all(pattern, "\\p{P}", "!-/:-@\\[-`{-~");
  return pattern;
}

class Conformance {
public:
  Conformance() {
    models["ec2"] = load_model("ec2", "2016-11-15");
    models["s3"] = load_model("s3", "2006-03-01");
    models["sts"] = load_model("sts", "2011-06-15");
    models["ssm"] = load_model("ssm", "2014-11-06");
    models["pricing"] = load_model("pricing", "2017-10-15");
    models["iam"] = load_model("iam", "2010-05-08");
  }
  bool loaded() const {
    for (const auto& [name, model] : models)
      if (!model.is_object()) return false;
    return true;
  }

  // Checks one captured request; every problem is added to problems.
  void check(const std::string& service, const Captured& c) {
    const json& model = models.at(service);
    std::string where = service + " " + c.operation;
    if (!model["operations"].contains(c.operation)) {
      fail(where, "operation not in the model");
      return;
    }
    const json& op = model["operations"][c.operation];
    std::string signing = model["metadata"].value("signingName", model["metadata"].value("endpointPrefix", ""));
    if (!c.request.signing) fail(where, "request is not signed");
    else if (c.request.signing->service != signing)
      fail(where, "signed for service " + c.request.signing->service + ", model says " + signing);
    operations_checked.insert(service + ":" + c.operation);
    std::string protocol = model["metadata"]["protocol"];
    if (protocol == "ec2" || protocol == "query") check_query(model, op, c, where, protocol == "ec2");
    else if (protocol == "json") check_json_request(model, op, c, where);
    else if (protocol == "rest-xml") check_rest_xml(model, op, c, where);
    else fail(where, "unknown protocol " + protocol);
  }

  std::map<std::string, json> models;
  std::vector<std::string> problems;
  std::set<std::string> operations_checked;
  std::set<std::string> parameters_checked;  // "service:Operation:Member.Path"

private:
  void fail(const std::string& where, const std::string& what) { problems.push_back(where + ": " + what); }

  static std::string serialized_name(const std::string& member, const json& m, bool ec2) {
    if (ec2) {
      if (m.contains("queryName")) return m["queryName"];
      if (m.contains("locationName")) {
        std::string n = m["locationName"];
        n[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(n[0])));
        return n;
      }
      return member;
    }
    return m.value("locationName", member);
  }

  void check_scalar(const json& shape, const std::string& value, const std::string& where) {
    std::string type = shape["type"];
    if (type == "integer" || type == "long") {
      auto v = spawn::util::parse_int(value);
      if (!v) return fail(where, "value " + spawn::util::quote(value) + " is not an integer");
      if (shape.contains("min") && *v < shape["min"].get<long long>()) fail(where, "value " + value + " below the model's min");
      if (shape.contains("max") && *v > shape["max"].get<long long>()) fail(where, "value " + value + " above the model's max");
    } else if (type == "boolean") {
      if (value != "true" && value != "false") fail(where, "value " + spawn::util::quote(value) + " is not a boolean");
    } else if (type == "timestamp") {
      if (!parse_iso8601(value)) fail(where, "value " + spawn::util::quote(value) + " is not an ISO 8601 timestamp");
    } else if (type == "double" || type == "float") {
      if (!spawn::util::parse_double(value)) fail(where, "value " + spawn::util::quote(value) + " is not a number");
    } else if (type == "string" || type == "blob") {
      if (shape.contains("enum")) {
        bool found = false;
        for (const auto& e : shape["enum"]) found = found || e == value;
        if (!found) fail(where, "value " + spawn::util::quote(value) + " is not one of the model's enum values");
      }
      if (shape.contains("min") && value.size() < shape["min"].get<std::size_t>()) fail(where, "value shorter than the model's min");
      if (shape.contains("max") && value.size() > shape["max"].get<std::size_t>()) fail(where, "value longer than the model's max");
      if (shape.contains("pattern") && type == "string") {
        try {
          if (!std::regex_match(value, std::regex(ascii_pattern(shape["pattern"].get<std::string>()))))
            fail(where, "value " + spawn::util::quote(value) + " does not match the model's pattern");
        } catch (const std::regex_error&) {
          // A pattern std::regex cannot compile even so; the model's other checks still apply.
        }
      }
    } else {
      fail(where, "unexpected scalar type " + type);
    }
  }

  // Query/EC2: "TagSpecification.1.Tag.2.Key" walked through the input shape. present[prefix] collects the
  // members seen under each structure, for the required-member check.
  void walk_query(const json& model, const std::string& shape_name, const std::vector<std::string>& segments, std::size_t i,
                  const std::string& value, const std::string& prefix, const std::string& member_path, bool ec2,
                  std::map<std::string, std::pair<std::string, std::set<std::string>>>& present, const std::string& where) {
    const json& shape = model["shapes"][shape_name];
    std::string type = shape["type"];
    if (type == "structure") {
      if (i >= segments.size()) return fail(where, prefix + " is a structure, not a value");
      auto& seen = present[prefix];
      seen.first = shape_name;
      for (const auto& [member, m] : shape["members"].items()) {
        if (serialized_name(member, m, ec2) != segments[i]) continue;
        seen.second.insert(member);
        std::string next = prefix.empty() ? segments[i] : prefix + "." + segments[i];
        return walk_query(model, m["shape"], segments, i + 1, value, next, member_path.empty() ? member : member_path + "." + member,
                          ec2, present, where);
      }
      return fail(where, "parameter " + spawn::util::join(segments, ".") + ": no member " + spawn::util::quote(segments[i]) +
                             (prefix.empty() ? std::string() : " in " + prefix) + " (shape " + shape_name + ")");
    }
    if (type == "list") {
      std::size_t j = i;
      if (!ec2 && !shape.value("flattened", false)) {
        std::string member_name = shape["member"].value("locationName", "member");
        if (j >= segments.size() || segments[j] != member_name) return fail(where, "list " + prefix + " must use ." + member_name + ".N");
        ++j;
      }
      auto index = j < segments.size() ? spawn::util::parse_uint(segments[j]) : std::nullopt;
      if (!index || *index < 1) return fail(where, "list " + prefix + " needs a 1-based index, got " + spawn::util::join(segments, "."));
      return walk_query(model, shape["member"]["shape"], segments, j + 1, value, prefix + ".N", member_path + ".N", ec2, present, where);
    }
    if (i != segments.size()) return fail(where, "parameter " + spawn::util::join(segments, ".") + " goes below scalar " + prefix);
    parameters_checked.insert(where + ":" + member_path);
    check_scalar(shape, value, where + ": " + spawn::util::join(segments, "."));
  }

  void check_required(const json& model, const std::map<std::string, std::pair<std::string, std::set<std::string>>>& present,
                      const std::string& where) {
    for (const auto& [prefix, entry] : present) {
      const json& shape = model["shapes"][entry.first];
      if (!shape.contains("required")) continue;
      for (const auto& r : shape["required"])
        if (!entry.second.count(r.get<std::string>()))
          fail(where, "required member " + r.get<std::string>() + (prefix.empty() ? "" : " of " + prefix) + " missing");
    }
  }

  void check_query(const json& model, const json& op, const Captured& c, const std::string& where, bool ec2) {
    if (c.request.method != "POST") fail(where, "query requests are POSTed");
    std::map<std::string, std::pair<std::string, std::set<std::string>>> present;
    std::string input = op.contains("input") ? op["input"]["shape"].get<std::string>() : "";
    if (!input.empty()) present[""] = {input, {}};
    bool have_ids = false, have_max = false;
    for (const auto& field : spawn::util::split(c.request.body, '&')) {
      auto eq = field.find('=');
      std::string key = uri_decode(field.substr(0, eq), true), value = uri_decode(field.substr(eq + 1), true);
      if (key == "Action") {
        if (value != c.operation) fail(where, "Action=" + value);
        continue;
      }
      if (key == "Version") {
        if (value != model["metadata"]["apiVersion"]) fail(where, "Version=" + value);
        continue;
      }
      if (key.starts_with("InstanceId.")) have_ids = true;
      if (key == "MaxResults") have_max = true;
      if (input.empty()) {
        fail(where, "operation takes no parameters, got " + key);
        continue;
      }
      walk_query(model, input, spawn::util::split(key, '.'), 0, value, "", "", ec2, present, where);
    }
    if (c.operation == "DescribeInstances" && have_ids && have_max)
      fail(where, "InstanceId and MaxResults cannot be sent together (EC2 rejects it)");
    check_required(model, present, where);
  }

  void check_json_value(const json& model, const std::string& shape_name, const json& value, const std::string& path,
                        const std::string& where) {
    const json& shape = model["shapes"][shape_name];
    std::string type = shape["type"];
    if (type == "structure") {
      if (!value.is_object()) return fail(where, path + " must be an object");
      for (const auto& [key, v] : value.items()) {
        if (!shape["members"].contains(key)) {
          fail(where, "no member " + spawn::util::quote(key) + " in " + (path.empty() ? shape_name : path));
          continue;
        }
        check_json_value(model, shape["members"][key]["shape"], v, path.empty() ? key : path + "." + key, where);
      }
      if (shape.contains("required"))
        for (const auto& r : shape["required"])
          if (!value.contains(r.get<std::string>())) fail(where, "required member " + r.get<std::string>() + " missing");
    } else if (type == "list") {
      if (!value.is_array()) return fail(where, path + " must be an array");
      for (const auto& v : value) check_json_value(model, shape["member"]["shape"], v, path + ".N", where);
    } else {
      parameters_checked.insert(where + ":" + path);
      if ((type == "integer" || type == "long") && !value.is_number_integer()) return fail(where, path + " must be an integer");
      if (type == "boolean" && !value.is_boolean()) return fail(where, path + " must be a boolean");
      if (type == "string") {
        if (!value.is_string()) return fail(where, path + " must be a string");
        check_scalar(shape, value.get<std::string>(), where + ": " + path);
      } else if (type == "integer" || type == "long") {
        check_scalar(shape, std::to_string(value.get<long long>()), where + ": " + path);
      }
    }
  }

  void check_json_request(const json& model, const json& op, const Captured& c, const std::string& where) {
    std::string target, content_type;
    for (const auto& [k, v] : c.request.headers) {
      if (spawn::util::iequals(k, "X-Amz-Target")) target = v;
      if (spawn::util::iequals(k, "Content-Type")) content_type = v;
    }
    std::string expected = model["metadata"]["targetPrefix"].get<std::string>() + "." + c.operation;
    if (target != expected) fail(where, "X-Amz-Target " + spawn::util::quote(target) + ", model says " + expected);
    if (content_type != "application/x-amz-json-" + model["metadata"]["jsonVersion"].get<std::string>())
      fail(where, "Content-Type " + spawn::util::quote(content_type));
    if (c.request.method != "POST") fail(where, "JSON requests are POSTed");
    auto body = json::parse(c.request.body, nullptr, false);
    if (body.is_discarded()) return fail(where, "body is not JSON");
    check_json_value(model, op["input"]["shape"], body, "", where);
  }

  void check_xml_element(const json& model, const std::string& shape_name, const pugi::xml_node& node, const std::string& path,
                         const std::string& where) {
    const json& shape = model["shapes"][shape_name];
    std::string type = shape["type"];
    if (type == "structure") {
      std::set<std::string> seen;
      for (auto child : node.children()) {
        if (child.type() != pugi::node_element) continue;
        std::string name = child.name();
        bool matched = false;
        for (const auto& [member, m] : shape["members"].items()) {
          if (m.value("locationName", member) != name) continue;
          matched = true;
          seen.insert(member);
          const json& ms = model["shapes"][m["shape"].get<std::string>()];
          if (ms["type"] == "list" && ms.value("flattened", false))
            check_xml_element(model, ms["member"]["shape"], child, path + "." + member + ".N", where);
          else
            check_xml_element(model, m["shape"], child, path + "." + member, where);
        }
        if (!matched) fail(where, "element <" + name + "> is no member of " + shape_name);
      }
      if (shape.contains("required"))
        for (const auto& r : shape["required"])
          if (!seen.count(r.get<std::string>())) fail(where, "required member " + r.get<std::string>() + " of " + path + " missing");
    } else if (type == "list") {
      for (auto child : node.children()) check_xml_element(model, shape["member"]["shape"], child, path + ".N", where);
    } else {
      parameters_checked.insert(where + ":" + path);
      check_scalar(shape, node.child_value(), where + ": " + path);
    }
  }

  void check_rest_xml(const json& model, const json& op, const Captured& c, const std::string& where) {
    const json& http = op["http"];
    const json& input = model["shapes"][op["input"]["shape"].get<std::string>()];
    if (c.request.method != http["method"]) fail(where, "method " + c.request.method + ", model says " + http["method"].get<std::string>());
    // Path-style URL: scheme://host/Bucket/Key?query (the tests override the endpoint, as users of the local endpoint do).
    std::string url = c.request.url;
    auto path_start = url.find('/', url.find("://") + 3);
    std::string path_query = url.substr(path_start);
    std::string path = path_query.substr(0, path_query.find('?'));
    std::string query = path_query.find('?') == std::string::npos ? "" : path_query.substr(path_query.find('?') + 1);
    std::string uri = http["requestUri"];
    std::string uri_path = uri.substr(0, uri.find('?'));
    std::string uri_query = uri.find('?') == std::string::npos ? "" : uri.substr(uri.find('?') + 1);
    // Labels: {Bucket} is one segment, {Key+} the rest (may contain '/').
    std::string pattern = std::regex_replace(std::regex_replace(uri_path, std::regex(R"(\{[A-Za-z]+\+\})"), "(.+)"),
                                             std::regex(R"(\{[A-Za-z]+\})"), "([^/]+)");
    std::smatch match;
    if (!std::regex_match(path, match, std::regex(pattern))) fail(where, "path " + path + " does not match " + uri_path);
    std::set<std::string> present;
    std::smatch labels;
    std::string rest = uri_path;
    while (std::regex_search(rest, labels, std::regex(R"(\{([A-Za-z]+)\+?\})"))) {
      for (const auto& [member, m] : input["members"].items())
        if (m.value("location", "") == "uri" && m.value("locationName", member) == labels[1].str()) {
          present.insert(member);
          parameters_checked.insert(where + ":" + member);
        }
      rest = labels.suffix();
    }
    std::map<std::string, std::string> query_fields;
    for (const auto& field : spawn::util::split(query, '&')) {
      if (field.empty()) continue;
      auto eq = field.find('=');
      query_fields[uri_decode(field.substr(0, eq))] = eq == std::string::npos ? "" : uri_decode(field.substr(eq + 1));
    }
    if (!uri_query.empty()) {
      auto eq = uri_query.find('=');
      std::string key = uri_query.substr(0, eq);
      if (!query_fields.count(key)) fail(where, "query lacks the operation's " + uri_query);
      else if (eq != std::string::npos && query_fields[key] != uri_query.substr(eq + 1)) fail(where, "query " + key + "=" + query_fields[key]);
      query_fields.erase(key);
    }
    for (const auto& [key, value] : query_fields) {
      bool matched = false;
      for (const auto& [member, m] : input["members"].items())
        if (m.value("location", "") == "querystring" && m.value("locationName", member) == key) {
          matched = true;
          present.insert(member);
          parameters_checked.insert(where + ":" + member);
          check_scalar(model["shapes"][m["shape"].get<std::string>()], value, where + ": query " + key);
        }
      if (!matched) fail(where, "query parameter " + key + " is no member");
    }
    static const std::set<std::string> k_protocol_headers = {"user-agent", "x-amz-content-sha256", "x-amz-security-token", "content-type"};
    std::string sha;
    // Operations whose model demands a body checksum (DeleteObjects): the protocol adds Content-MD5.
    bool checksum_required = op.value("httpChecksumRequired", false) ||
                             (op.contains("httpChecksum") && op["httpChecksum"].value("requestChecksumRequired", false));
    bool has_md5 = false;
    for (const auto& [k, v] : c.request.headers) {
      std::string name = spawn::util::to_lower(k);
      if (name == "x-amz-content-sha256") sha = v;
      bool matched = false;
      for (const auto& [member, m] : input["members"].items())
        if (m.value("location", "") == "header" && spawn::util::iequals(m.value("locationName", member), name)) {
          matched = true;
          present.insert(member);
          parameters_checked.insert(where + ":" + member);
          check_scalar(model["shapes"][m["shape"].get<std::string>()], v, where + ": header " + k);
        }
      bool checksum = name == "content-md5" && checksum_required;
      if (checksum) has_md5 = true;
      if (!matched && !checksum && !k_protocol_headers.count(name)) fail(where, "header " + k + " is no member");
    }
    if (checksum_required && !has_md5) fail(where, "the model requires a checksum header (Content-MD5)");
    if (sha != sha256_hex(c.request.body)) fail(where, "x-amz-content-sha256 is not the SHA-256 of the body");
    if (input.contains("payload") && !c.request.body.empty()) {
      std::string payload = input["payload"];
      const json& pm = input["members"][payload];
      const json& ps = model["shapes"][pm["shape"].get<std::string>()];
      if (ps["type"] == "structure") {
        pugi::xml_document doc;
        if (!doc.load_buffer(c.request.body.data(), c.request.body.size())) fail(where, "payload is not XML");
        else if (doc.document_element().name() != pm.value("locationName", payload))
          fail(where, std::string("payload element <") + doc.document_element().name() + ">, model says " + pm.value("locationName", payload));
        else {
          present.insert(payload);
          check_xml_element(model, pm["shape"], doc.document_element(), payload, where);
        }
      } else {
        present.insert(payload);
        parameters_checked.insert(where + ":" + payload);
      }
    }
    if (input.contains("required"))
      for (const auto& r : input["required"])
        if (!present.count(r.get<std::string>())) fail(where, "required member " + r.get<std::string>() + " missing");
  }
};

struct Fixture {
  std::shared_ptr<CapturingTransport> transport = std::make_shared<CapturingTransport>();
  std::shared_ptr<Session> session;
  std::vector<std::pair<std::string, Captured>> captured;  // service, request

  explicit Fixture(const std::string& region) {
    SessionOptions o;
    o.region = region;
    o.environment = fixed_environment({{"AWS_ENDPOINT_URL", "http://127.0.0.1:1"}});
    o.transport = transport;
    o.credentials = CredentialsProvider::fixed({"AKIDEXAMPLE", "secret", "session-token", std::nullopt, "test"});
    session = *Session::create(o);
  }
  // Runs call and files every request it sent under service/operation.
  void expect(const std::string& service, const std::string& operation, const std::function<void()>& call) {
    std::size_t before = transport->requests.size();
    call();
    ASSERT_GT(transport->requests.size(), before) << service << " " << operation << " sent nothing";
    for (std::size_t i = before; i < transport->requests.size(); ++i)
      captured.push_back({service, {operation, transport->requests[i]}});
  }
};

void send_every_request(Fixture& f) {
  Ec2Client ec2(f.session);
  std::vector<Tag> tags = {{"spawn:job", "7"}, {"spawn:task", "3"}, {"spawn:managed", "true"}, {"Name", "spawn-7-3"}};
  RunInstancesRequest run;
  run.image_id = "ami-0123456789abcdef0";
  run.instance_type = "c5.large";
  run.min_count = 3;
  run.max_count = 3;
  run.user_data = "#!/bin/bash\necho hello\n";
  run.market = MarketType::spot;
  run.spot_max_price = "0.10";
  run.client_token = "spawn-7-batch-1-attempt-1";
  run.tags = tags;
  run.availability_zone = "us-east-1a";
  run.placement_group = "spawn-7";
  run.iam_instance_profile = "spawn-instance";
  run.subnet_id = "subnet-0123";
  run.security_group_ids = {"sg-1", "sg-2"};
  run.key_name = "spawn-7";
  run.root_volume_gib = 40;
  f.expect("ec2", "RunInstances", [&] { (void)ec2.run_instances(run); });
  RunInstancesRequest efa = run;  // a cohort's nodes on an EFA type: the interface carries subnet and groups
  efa.efa_interface = true;
  f.expect("ec2", "RunInstances", [&] { (void)ec2.run_instances(efa); });
  RunInstancesRequest minimal;
  minimal.image_id = "ami-1";
  minimal.instance_type = "t3.micro";
  f.expect("ec2", "RunInstances", [&] { (void)ec2.run_instances(minimal); });
  f.expect("ec2", "DescribeInstances", [&] {
    (void)ec2.describe_instances({{}, {{"tag:spawn:job", {"7"}}, {"instance-state-name", {"pending", "running"}}}, 500});
  });
  f.expect("ec2", "DescribeInstances", [&] { (void)ec2.describe_instances({{"i-1", "i-2"}, {}, std::nullopt}); });
  f.expect("ec2", "TerminateInstances", [&] { (void)ec2.terminate_instances({"i-1", "i-2"}); });
  f.expect("ec2", "CreateTags", [&] { (void)ec2.create_tags({"i-1", "vol-1"}, tags); });
  f.expect("ec2", "DescribeInstanceTypes", [&] { (void)ec2.describe_instance_types({"c5.large", "g4dn.xlarge"}); });
  f.expect("ec2", "DescribeInstanceTypes", [&] { (void)ec2.describe_instance_types({}, {{"current-generation", {"true"}}}); });
  f.expect("ec2", "DescribeSpotPriceHistory", [&] {
    DescribeSpotPriceHistoryRequest r;
    r.instance_types = {"c5.large"};
    r.availability_zone = "us-east-1a";
    r.max_results = 100;
    (void)ec2.describe_spot_price_history(r);
  });
  f.expect("ec2", "DescribeSpotPriceHistory", [&] { (void)ec2.describe_spot_price_history({}); });  // refresh
  f.expect("ec2", "DescribeAvailabilityZones", [&] { (void)ec2.describe_availability_zones(); });
  f.expect("ec2", "CreatePlacementGroup", [&] { (void)ec2.create_placement_group("spawn-7", "cluster", tags); });
  f.expect("ec2", "DeletePlacementGroup", [&] { (void)ec2.delete_placement_group("spawn-7"); });
  f.expect("ec2", "DescribePlacementGroups", [&] { (void)ec2.describe_placement_groups({{"tag:spawn:managed", {"true"}}}); });
  f.expect("ec2", "DeleteSecurityGroup", [&] { (void)ec2.delete_security_group("sg-1"); });
  f.expect("ec2", "CreateSecurityGroup", [&] { (void)ec2.create_security_group("spawn-7", "spawn job 7", "vpc-1", tags); });
  f.expect("ec2", "AuthorizeSecurityGroupIngress", [&] {
    (void)ec2.authorize_security_group_ingress("sg-1", {{"tcp", 22, 22, {"10.0.0.0/16"}, {}}, {"-1", -1, -1, {}, {"sg-1"}}});
  });
  f.expect("ec2", "DescribeSecurityGroups", [&] { (void)ec2.describe_security_groups({"sg-1"}); });
  f.expect("ec2", "DescribeSecurityGroups", [&] { (void)ec2.describe_security_groups({}, {{"group-name", {"spawn"}}}); });
  f.expect("ec2", "DescribeSubnets", [&] { (void)ec2.describe_subnets({"subnet-1"}); });
  f.expect("ec2", "DescribeSubnets", [&] { (void)ec2.describe_subnets({}, {{"default-for-az", {"true"}}}); });
  f.expect("ec2", "DescribeVpcs", [&] { (void)ec2.describe_vpcs({}, {{"is-default", {"true"}}}); });
  f.expect("ec2", "DescribeVpcs", [&] { (void)ec2.describe_vpcs({"vpc-1"}); });

  S3Client s3(f.session);
  f.expect("s3", "CreateBucket", [&] { (void)s3.create_bucket("spawn-bucket"); });
  f.expect("s3", "PutObject", [&] { (void)s3.put_object("spawn-bucket", "jobs/7/task 3/out.txt", "hello"); });
  f.expect("s3", "GetObject", [&] { (void)s3.get_object("spawn-bucket", "jobs/7/out.txt"); });
  f.expect("s3", "GetObject", [&] { (void)s3.get_object_from("spawn-bucket", "jobs/7/out.txt", 4096); });
  f.expect("s3", "GetObject", [&] {
    const fs::path to = fs::temp_directory_path() / ("spawn-conformance-" + std::to_string(::getpid()));
    (void)s3.get_object_to_file("spawn-bucket", "jobs/7/tasks/0.1/back-1.tar.gz.000", to);
    fs::remove(to);
  });
  f.expect("s3", "GetObject", [&] {  // in ranges of 4 bytes: the first, then two with If-Match
    const fs::path to = fs::temp_directory_path() / ("spawn-conformance-" + std::to_string(::getpid()));
    auto got = s3.get_object_to_file("spawn-bucket", "jobs/7/tasks/0.1/back-1.tar.gz.000", to, MultipartSettings{16 << 20, 4, 1});
    EXPECT_TRUE(got && *got == 10u) << (got ? std::to_string(*got) : got.error().to_string());
    fs::remove(to);
  });
  f.expect("s3", "HeadObject", [&] { (void)s3.head_object("spawn-bucket", "jobs/7/out.txt"); });
  f.expect("s3", "ListObjectsV2", [&] { (void)s3.list_objects("spawn-bucket", "jobs/7/"); });
  f.expect("s3", "ListObjectsV2", [&] { (void)s3.list_objects_page({"spawn-bucket", "jobs/", std::string("/"), 10, ""}); });
  f.expect("s3", "CreateMultipartUpload", [&] { (void)s3.create_multipart_upload("spawn-bucket", "spawn/files/ab cd"); });
  f.expect("s3", "UploadPart", [&] { (void)s3.upload_part("spawn-bucket", "spawn/files/ab cd", "VXBsb2FkIElE+/=", 10000, "part"); });
  f.expect("s3", "CompleteMultipartUpload", [&] {
    (void)s3.complete_multipart_upload("spawn-bucket", "spawn/files/ab cd", "VXBsb2FkIElE+/=", {{1, "\"a1\""}, {2, "\"b2\""}});
  });
  f.expect("s3", "AbortMultipartUpload", [&] { (void)s3.abort_multipart_upload("spawn-bucket", "spawn/files/ab cd", "VXBsb2FkIElE+/="); });
  f.expect("s3", "DeleteObjects", [&] { (void)s3.delete_objects("spawn-bucket", {"a", "b&c<d>"}); });
  // spawn aws setup
  f.expect("s3", "HeadBucket", [&] { (void)s3.head_bucket("spawn-bucket"); });
  f.expect("s3", "GetPublicAccessBlock", [&] { (void)s3.get_bucket_setting("spawn-bucket", BucketSetting::public_access_block); });
  f.expect("s3", "PutPublicAccessBlock", [&] {
    (void)s3.put_bucket_setting("spawn-bucket", BucketSetting::public_access_block,
                                "<PublicAccessBlockConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                                "<BlockPublicAcls>true</BlockPublicAcls></PublicAccessBlockConfiguration>");
  });
  f.expect("s3", "GetBucketEncryption", [&] { (void)s3.get_bucket_setting("spawn-bucket", BucketSetting::encryption); });
  f.expect("s3", "PutBucketEncryption", [&] {
    (void)s3.put_bucket_setting("spawn-bucket", BucketSetting::encryption,
                                "<ServerSideEncryptionConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Rule>"
                                "<ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm>"
                                "</ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>");
  });
  f.expect("s3", "GetBucketLifecycleConfiguration", [&] { (void)s3.get_bucket_setting("spawn-bucket", BucketSetting::lifecycle); });
  f.expect("s3", "PutBucketLifecycleConfiguration", [&] {
    (void)s3.put_bucket_setting("spawn-bucket", BucketSetting::lifecycle,
                                "<LifecycleConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Rule><ID>spawn-expire</ID>"
                                "<Filter><Prefix>spawn/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>30</Days>"
                                "</Expiration></Rule></LifecycleConfiguration>");
  });
  IamClient iam(f.session);
  f.expect("iam", "GetRole", [&] { (void)iam.get_role("spawn-instance"); });
  f.expect("iam", "CreateRole", [&] { (void)iam.create_role("spawn-instance", "{}", "spawn's instances", tags); });
  f.expect("iam", "GetRolePolicy", [&] { (void)iam.get_role_policy("spawn-instance", "spawn-instance"); });
  f.expect("iam", "PutRolePolicy", [&] { (void)iam.put_role_policy("spawn-instance", "spawn-instance", "{}"); });
  f.expect("iam", "GetInstanceProfile", [&] { (void)iam.get_instance_profile("spawn-instance"); });
  f.expect("iam", "CreateInstanceProfile", [&] { (void)iam.create_instance_profile("spawn-instance", tags); });
  f.expect("iam", "AddRoleToInstanceProfile", [&] { (void)iam.add_role_to_instance_profile("spawn-instance", "spawn-instance"); });

  StsClient sts(f.session);
  f.expect("sts", "GetCallerIdentity", [&] { (void)sts.get_caller_identity(); });
  SsmClient ssm(f.session);
  f.expect("ssm", "GetParameter", [&] {
    (void)ssm.get_parameter("/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64", true);
  });
  PricingClient pricing(f.session);
  f.expect("pricing", "GetProducts", [&] {
    (void)pricing.get_products("AmazonEC2", {{"instanceType", "c5.large"}, {"location", "US East (N. Virginia)"}});
  });
  f.expect("pricing", "GetProducts", [&] {  // as catalog refresh sends it
    (void)pricing.get_products("AmazonEC2", {{"regionCode", "eu-west-1"}, {"operatingSystem", "Linux"}, {"tenancy", "Shared"},
                                             {"preInstalledSw", "NA"}, {"capacitystatus", "Used"}});
  });
}

} // namespace

TEST(AwsConformance, EveryRequestMatchesTheBotocoreModels) {
  Conformance c;
  ASSERT_TRUE(c.loaded()) << "the AWS service models of python3-botocore are missing (looked in "
                             "/usr/lib/python3/dist-packages/botocore/data): run scripts/install-deps.sh";
  for (const char* region : {"eu-west-1", "us-east-1"}) {
    Fixture f(region);
    send_every_request(f);
    for (const auto& [service, captured] : f.captured) c.check(service, captured);
  }
  for (const auto& p : c.problems) ADD_FAILURE() << p;
  // Every operation the client implements was seen (both pages of the paginated ones).
  EXPECT_EQ(c.operations_checked.size(), 43u);
  EXPECT_GE(c.parameters_checked.size(), 90u);
  std::cout << "conformance: " << c.operations_checked.size() << " operations, " << c.parameters_checked.size()
            << " distinct operation parameters checked against botocore models\n";
}

TEST(AwsConformance, TheCheckerCatchesWrongRequests) {
  // The checker itself must fail on what AWS would reject: a wrong query name, a bad enum, a missing member.
  Conformance c;
  ASSERT_TRUE(c.loaded()) << "run scripts/install-deps.sh (python3-botocore)";
  auto request = [](std::string body) {
    HttpRequest r;
    r.method = "POST";
    r.body = std::move(body);
    r.signing = Signing{"us-east-1", "ec2", {}};
    return r;
  };
  c.check("ec2", {"RunInstances", request("Action=RunInstances&Version=2016-11-15&MinCount=1&MaxCount=1&SecurityGroupIds.1=sg")});
  c.check("ec2", {"RunInstances", request("Action=RunInstances&Version=2016-11-15&MinCount=1&MaxCount=x")});
  c.check("ec2", {"RunInstances", request("Action=RunInstances&Version=2016-11-15&MinCount=1&MaxCount=1&InstanceInitiatedShutdownBehavior=halt")});
  c.check("ec2", {"RunInstances", request("Action=RunInstances&Version=2016-11-15&MinCount=1")});
  c.check("ec2", {"LaunchEverything", request("Action=LaunchEverything&Version=2016-11-15")});
  ASSERT_EQ(c.problems.size(), 5u) << spawn::util::join(c.problems, "\n");
  EXPECT_NE(c.problems[0].find("no member \"SecurityGroupIds\""), std::string::npos) << c.problems[0];
  EXPECT_NE(c.problems[1].find("is not an integer"), std::string::npos) << c.problems[1];
  EXPECT_NE(c.problems[2].find("enum"), std::string::npos) << c.problems[2];
  EXPECT_NE(c.problems[3].find("required member MaxCount missing"), std::string::npos) << c.problems[3];
  EXPECT_NE(c.problems[4].find("operation not in the model"), std::string::npos) << c.problems[4];
}
