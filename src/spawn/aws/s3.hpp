#pragma once
// Typed S3 operations (REST-XML, 2006-03-01). Addressing is virtual-hosted against AWS and path-style when an
// endpoint is overridden (AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL); every request carries x-amz-content-sha256.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aws/session.hpp"

namespace spawn::aws {

struct ObjectInfo {
  std::string key;
  std::uint64_t size = 0;
  std::string etag;
  std::string last_modified;  // ISO 8601 (listings) or HTTP date (HEAD)
};

struct ListObjectsPage {
  std::vector<ObjectInfo> objects;
  std::vector<std::string> common_prefixes;
  std::string next_continuation_token;  // empty: last page
};

struct ListObjectsRequest {
  std::string bucket;
  std::string prefix;
  std::optional<std::string> delimiter;
  std::optional<int> max_keys;
  std::string continuation_token;
};

// A bucket-level setting `spawn aws setup` reads and writes (the ?publicAccessBlock, ?encryption, ?lifecycle
// subresources: GetPublicAccessBlock/PutPublicAccessBlock, Get/PutBucketEncryption,
// Get/PutBucketLifecycleConfiguration).
enum class BucketSetting { public_access_block, encryption, lifecycle };

class S3Client {
public:
  explicit S3Client(std::shared_ptr<Session> session) : m_session(std::move(session)) {}

  // Creates bucket in the session's region (LocationConstraint outside us-east-1).
  Result<void> create_bucket(const std::string& bucket);
  // Whether the bucket exists and is ours to use (HeadBucket): false on 404; 403 (someone else's) is an error.
  Result<bool> head_bucket(const std::string& bucket);
  // The setting's XML document, or nullopt when the bucket has none.
  Result<std::optional<std::string>> get_bucket_setting(const std::string& bucket, BucketSetting setting);
  // Replaces the setting with the XML document.
  Result<void> put_bucket_setting(const std::string& bucket, BucketSetting setting, const std::string& document);
  // Stores body under key; returns the ETag.
  Result<std::string> put_object(const std::string& bucket, const std::string& key, const std::string& body,
                                 const std::string& content_type = "application/octet-stream");
  // The object's bytes; a missing key is an AwsError with code NoSuchKey.
  Result<std::string> get_object(const std::string& bucket, const std::string& key);
  // The object's bytes from offset on (a ranged GET, `Range: bytes=offset-`): empty when it holds no more than
  // offset bytes; a missing key is NoSuchKey. For following a file that grows (spawn logs --follow).
  Result<std::string> get_object_from(const std::string& bucket, const std::string& key, std::uint64_t offset);
  // Size, ETag and modification time; nullopt when the object does not exist.
  Result<std::optional<ObjectInfo>> head_object(const std::string& bucket, const std::string& key);
  // One page of ListObjectsV2.
  Result<ListObjectsPage> list_objects_page(const ListObjectsRequest& request);
  // Every object under prefix, all pages.
  Result<std::vector<ObjectInfo>> list_objects(const std::string& bucket, const std::string& prefix);
  // Deletes keys (batches of 1,000); returns the keys S3 reported as errors (with their codes), empty on success.
  Result<std::vector<std::string>> delete_objects(const std::string& bucket, const std::vector<std::string>& keys);

private:
  std::shared_ptr<Session> m_session;
};

} // namespace spawn::aws
