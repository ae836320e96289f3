#pragma once
// Typed S3 operations (REST-XML, 2006-03-01). Addressing is virtual-hosted against AWS and path-style when an
// endpoint is overridden (AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL); every request carries x-amz-content-sha256.
#include <atomic>
#include <cstdint>
#include <filesystem>
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

// S3's limits on uploads (AWS's "Amazon S3 multipart upload limits").
inline constexpr std::uint64_t k_s3_min_part_bytes = 5ull << 20;      // every part but the last
inline constexpr std::uint64_t k_s3_max_part_bytes = 5ull << 30;
inline constexpr std::uint64_t k_s3_max_parts = 10'000;
inline constexpr std::uint64_t k_s3_max_put_bytes = 5ull << 30;       // one PutObject
inline constexpr std::uint64_t k_s3_max_object_bytes = 5ull << 40;

// How put_file sends a file: at or below threshold one PutObject, above it a multipart upload in parts of
// part_bytes (the AWS CLI's defaults: 8 MiB each; spawn's 16 MiB halves the requests for the same memory bound),
// concurrency of them in flight at once (the AWS CLI sends 10; one stream to S3 carries far less than a link can),
// so at most concurrency parts are in memory. concurrency 1: one part after the other.
struct MultipartSettings {
  std::uint64_t threshold = 16ull << 20;
  std::uint64_t part_bytes = 16ull << 20;
  unsigned concurrency = 8;
};
inline constexpr unsigned k_max_transfer_concurrency = 64;
// The defaults with SPAWN_AWS_MULTIPART_THRESHOLD / SPAWN_AWS_MULTIPART_PART_BYTES (bytes) and
// SPAWN_AWS_TRANSFER_CONCURRENCY (1 to 64) over them; a value that is not a whole number of bytes (or a zero
// threshold), or a concurrency outside 1..64, is a config error naming the variable and the value.
Result<MultipartSettings> multipart_settings(const Environment& env);
// The part size for an object of size bytes: the configured size, raised to S3's 5 MiB minimum and to
// ceil(size / 10,000) so no upload needs more than 10,000 parts.
std::uint64_t multipart_part_bytes(std::uint64_t size, std::uint64_t configured);

// What put_file sent.
struct PutFileResult {
  std::string etag;          // S3's; a multipart object's is "<md5 of the parts' md5s>-<parts>"
  std::string sha256;        // lower-case hex SHA-256 of the bytes sent (the caller compares it with what it expected)
  std::uint64_t bytes = 0;
  std::uint64_t parts = 0;   // 0: one PutObject
};

struct CompletedPart {
  int number = 0;
  std::string etag;
};

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
  // Streams the file at path to key, never holding more than concurrency parts (or the whole file when at or below
  // the threshold) in memory: one PutObject, or CreateMultipartUpload + UploadPart (each with Content-MD5, up to
  // concurrency of them in flight, each on its own connection) + CompleteMultipartUpload listing the parts in order.
  // The file is read once, in order, and the SHA-256 is of the bytes read and sent. Any failure stops the other
  // parts (those in flight are cancelled) and aborts the multipart upload (no parts left behind); the error names
  // the file and s3://bucket/key. settings nullopt: multipart_settings(the session's environment).
  Result<PutFileResult> put_file(const std::string& bucket, const std::string& key, const std::filesystem::path& path,
                                 const std::optional<MultipartSettings>& settings = std::nullopt,
                                 const std::string& content_type = "application/octet-stream");
  // The multipart operations put_file is made of. create_multipart_upload returns the UploadId, upload_part the
  // part's ETag, complete_multipart_upload the object's ETag (an <Error> document in a 200 answer is an error).
  Result<std::string> create_multipart_upload(const std::string& bucket, const std::string& key,
                                              const std::string& content_type = "application/octet-stream");
  // cancel: when it turns true the part is abandoned (an error of kind local) instead of sent or retried.
  Result<std::string> upload_part(const std::string& bucket, const std::string& key, const std::string& upload_id,
                                  int part_number, std::string body, const std::atomic<bool>* cancel = nullptr);
  Result<std::string> complete_multipart_upload(const std::string& bucket, const std::string& key, const std::string& upload_id,
                                                const std::vector<CompletedPart>& parts);
  Result<void> abort_multipart_upload(const std::string& bucket, const std::string& key, const std::string& upload_id);
  // The object's bytes; a missing key is an AwsError with code NoSuchKey.
  Result<std::string> get_object(const std::string& bucket, const std::string& key);
  // Streams the object into path (through a temporary beside it, renamed when whole), memory bounded whatever its
  // size; returns the bytes written. It comes in ranges of part_bytes (a ranged GET each), the first alone (it says
  // the size), the rest concurrency at once, each written at its offset; a retried range writes its bytes over, a
  // range of an object replaced meanwhile (If-Match the first range's ETag: 412) is an error, and the first failure
  // cancels the ranges in flight. A missing key is NoSuchKey (path untouched); a file that cannot be written is an
  // error of kind local. settings nullopt: multipart_settings(the session's environment).
  Result<std::uint64_t> get_object_to_file(const std::string& bucket, const std::string& key,
                                           const std::filesystem::path& path,
                                           const std::optional<MultipartSettings>& settings = std::nullopt);
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
