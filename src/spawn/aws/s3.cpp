#include "aws/s3.hpp"

#include <algorithm>

#include "aws/encoding.hpp"
#include "aws/xml.hpp"
#include "util/strings.hpp"

namespace spawn::aws {

namespace {

std::string object_path(const std::string& key) { return "/" + uri_encode(key, true); }

// A request on one object: GetObject, HeadObject, PutObject.
ServiceRequest object_request(const char* operation, const char* method, const std::string& bucket, const std::string& key) {
  ServiceRequest r;
  r.service = Service::s3;
  r.operation = operation;
  r.method = method;
  r.bucket = bucket;
  r.path = object_path(key);
  return r;
}

// A request on the bucket itself or one of its subresources (query "lifecycle=").
ServiceRequest bucket_request(const char* operation, const char* method, const std::string& bucket, std::string query = {}) {
  ServiceRequest r;
  r.service = Service::s3;
  r.operation = operation;
  r.method = method;
  r.bucket = bucket;
  r.query = std::move(query);
  return r;
}

std::string xml_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
    case '&': out += "&amp;"; break;
    case '<': out += "&lt;"; break;
    case '>': out += "&gt;"; break;
    case '"': out += "&quot;"; break;
    case '\'': out += "&apos;"; break;
    default: out += c;
    }
  }
  return out;
}

// A canonical query: keys sorted, both sides encoded, "key=" for flags (curl 7.88 signs the query as given).
std::string canonical_query(std::vector<std::pair<std::string, std::string>> fields) {
  std::sort(fields.begin(), fields.end());
  return form_encode(fields);
}

} // namespace

Result<void> S3Client::create_bucket(const std::string& bucket) {
  ServiceRequest r;
  r.service = Service::s3;
  r.operation = "CreateBucket";
  r.method = "PUT";
  r.bucket = bucket;
  if (m_session->region() != "us-east-1") {
    r.body = "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>" +
             xml_escape(m_session->region()) + "</LocationConstraint></CreateBucketConfiguration>";
    r.headers = {{"Content-Type", "application/xml"}};
  }
  auto response = m_session->send(r);
  if (!response) return Failure(response.error());
  return {};
}

namespace {

struct SettingNames {
  const char* subresource;
  const char* get;
  const char* put;
  const char* missing;  // the error code of a bucket without the setting
};

SettingNames names(BucketSetting setting) {
  switch (setting) {
  case BucketSetting::public_access_block:
    return {"publicAccessBlock", "GetPublicAccessBlock", "PutPublicAccessBlock", "NoSuchPublicAccessBlockConfiguration"};
  case BucketSetting::encryption:
    return {"encryption", "GetBucketEncryption", "PutBucketEncryption", "ServerSideEncryptionConfigurationNotFoundError"};
  case BucketSetting::lifecycle:
    return {"lifecycle", "GetBucketLifecycleConfiguration", "PutBucketLifecycleConfiguration", "NoSuchLifecycleConfiguration"};
  }
  return {"", "", "", ""};
}

} // namespace

Result<bool> S3Client::head_bucket(const std::string& bucket) {
  auto response = m_session->send(bucket_request("HeadBucket", "HEAD", bucket));
  if (!response) {
    if (response.error().http_status == 404) return false;
    return Failure(response.error());
  }
  return true;
}

Result<std::optional<std::string>> S3Client::get_bucket_setting(const std::string& bucket, BucketSetting setting) {
  const SettingNames n = names(setting);
  auto response = m_session->send(bucket_request(n.get, "GET", bucket, std::string(n.subresource) + "="));
  if (!response) {
    if (response.error().code == n.missing) return std::optional<std::string>();
    return Failure(response.error());
  }
  return std::optional<std::string>(std::move(response->body));
}

Result<void> S3Client::put_bucket_setting(const std::string& bucket, BucketSetting setting, const std::string& document) {
  const SettingNames n = names(setting);
  ServiceRequest r = bucket_request(n.put, "PUT", bucket, std::string(n.subresource) + "=");
  r.headers = {{"Content-Type", "application/xml"}, {"Content-MD5", md5_base64(document)}};
  r.body = document;
  auto response = m_session->send(r);
  if (!response) return Failure(response.error());
  return {};
}

Result<std::string> S3Client::put_object(const std::string& bucket, const std::string& key, const std::string& body,
                                         const std::string& content_type) {
  ServiceRequest r;
  r.service = Service::s3;
  r.operation = "PutObject";
  r.method = "PUT";
  r.bucket = bucket;
  r.path = object_path(key);
  r.headers = {{"Content-Type", content_type}, {"Content-MD5", md5_base64(body)}};
  r.body = body;
  auto response = m_session->send(r);
  if (!response) return Failure(response.error());
  return response->header("etag");
}

Result<std::string> S3Client::get_object(const std::string& bucket, const std::string& key) {
  auto response = m_session->send(object_request("GetObject", "GET", bucket, key));
  if (!response) return Failure(response.error());
  return std::move(response->body);
}

Result<std::string> S3Client::get_object_from(const std::string& bucket, const std::string& key, std::uint64_t offset) {
  auto r = object_request("GetObject", "GET", bucket, key);
  r.headers = {{"Range", "bytes=" + std::to_string(offset) + "-"}};
  auto response = m_session->send(r);
  if (!response) {
    // 416 InvalidRange: the object has no byte at offset (nothing new yet).
    if (response.error().http_status == 416) return std::string();
    return Failure(response.error());
  }
  // A server that ignores Range answers 200 with the whole object.
  if (response->status == 200) return response->body.size() > offset ? response->body.substr(offset) : std::string();
  return std::move(response->body);
}

Result<std::optional<ObjectInfo>> S3Client::head_object(const std::string& bucket, const std::string& key) {
  auto response = m_session->send(object_request("HeadObject", "HEAD", bucket, key));
  if (!response) {
    if (response.error().http_status == 404) return std::optional<ObjectInfo>();
    return Failure(response.error());
  }
  ObjectInfo info;
  info.key = key;
  info.size = util::parse_uint(response->header("content-length")).value_or(0);
  info.etag = response->header("etag");
  info.last_modified = response->header("last-modified");
  return std::optional<ObjectInfo>(info);
}

Result<ListObjectsPage> S3Client::list_objects_page(const ListObjectsRequest& request) {
  std::vector<std::pair<std::string, std::string>> q{{"list-type", "2"}};
  if (!request.prefix.empty()) q.emplace_back("prefix", request.prefix);
  if (request.delimiter) q.emplace_back("delimiter", *request.delimiter);
  if (request.max_keys) q.emplace_back("max-keys", std::to_string(*request.max_keys));
  if (!request.continuation_token.empty()) q.emplace_back("continuation-token", request.continuation_token);
  ServiceRequest r;
  r.service = Service::s3;
  r.operation = "ListObjectsV2";
  r.method = "GET";
  r.bucket = request.bucket;
  r.query = canonical_query(q);
  auto response = m_session->send(r);
  if (!response) return Failure(response.error());
  pugi::xml_document doc;
  auto root = xml::parse(doc, response->body, Service::s3, "ListObjectsV2", m_session->region());
  if (!root) return Failure(root.error());
  ListObjectsPage page;
  for (auto c : root->children("Contents"))
    page.objects.push_back({c.child_value("Key"), util::parse_uint(util::trim(c.child_value("Size"))).value_or(0),
                            c.child_value("ETag"), c.child_value("LastModified")});
  for (auto p : root->children("CommonPrefixes")) page.common_prefixes.emplace_back(p.child_value("Prefix"));
  if (xml::boolean(*root, "IsTruncated")) page.next_continuation_token = root->child_value("NextContinuationToken");
  return page;
}

Result<std::vector<ObjectInfo>> S3Client::list_objects(const std::string& bucket, const std::string& prefix) {
  std::vector<ObjectInfo> out;
  ListObjectsRequest request{bucket, prefix, std::nullopt, std::nullopt, ""};
  do {
    auto page = list_objects_page(request);
    if (!page) return Failure(page.error());
    out.insert(out.end(), page->objects.begin(), page->objects.end());
    request.continuation_token = page->next_continuation_token;
  } while (!request.continuation_token.empty());
  return out;
}

Result<std::vector<std::string>> S3Client::delete_objects(const std::string& bucket, const std::vector<std::string>& keys) {
  std::vector<std::string> failed;
  for (std::size_t start = 0; start < keys.size(); start += 1000) {
    std::string body = "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>";
    for (std::size_t i = start; i < std::min(keys.size(), start + 1000); ++i)
      body += "<Object><Key>" + xml_escape(keys[i]) + "</Key></Object>";
    body += "</Delete>";
    ServiceRequest r;
    r.service = Service::s3;
    r.operation = "DeleteObjects";
    r.method = "POST";
    r.bucket = bucket;
    r.query = "delete=";
    r.headers = {{"Content-Type", "application/xml"}, {"Content-MD5", md5_base64(body)}};
    r.body = std::move(body);
    auto response = m_session->send(r);
    if (!response) return Failure(response.error());
    pugi::xml_document doc;
    auto root = xml::parse(doc, response->body, Service::s3, "DeleteObjects", m_session->region());
    if (!root) return Failure(root.error());
    for (auto e : root->children("Error"))
      failed.push_back(std::string(e.child_value("Key")) + ": " + e.child_value("Code"));
  }
  return failed;
}

} // namespace spawn::aws
