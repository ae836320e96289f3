#include "aws/s3.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aws/encoding.hpp"
#include "aws/xml.hpp"
#include "util/files.hpp"
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

Result<MultipartSettings> multipart_settings(const Environment& env) {
  MultipartSettings settings;
  for (auto [name, value] : {std::pair{"SPAWN_AWS_MULTIPART_THRESHOLD", &settings.threshold},
                             std::pair{"SPAWN_AWS_MULTIPART_PART_BYTES", &settings.part_bytes}}) {
    auto text = env(name);
    if (!text || text->empty()) continue;
    auto bytes = util::parse_uint(util::trim(*text));
    if (!bytes || *bytes == 0) {
      AwsError e;
      e.kind = ErrorKind::config;
      e.service = "s3";
      e.message = std::string(name) + "=" + util::quote(*text) + ": expected a number of bytes above 0";
      return Failure(e);
    }
    *value = *bytes;
  }
  if (auto text = env("SPAWN_AWS_TRANSFER_CONCURRENCY"); text && !text->empty()) {
    auto n = util::parse_uint(util::trim(*text));
    if (!n || *n == 0 || *n > k_max_transfer_concurrency) {
      AwsError e;
      e.kind = ErrorKind::config;
      e.service = "s3";
      e.message = "SPAWN_AWS_TRANSFER_CONCURRENCY=" + util::quote(*text) + ": expected a number of transfers from 1 to " +
                  std::to_string(k_max_transfer_concurrency);
      return Failure(e);
    }
    settings.concurrency = static_cast<unsigned>(*n);
  }
  return settings;
}

std::uint64_t multipart_part_bytes(std::uint64_t size, std::uint64_t configured) {
  std::uint64_t for_count = size / k_s3_max_parts + (size % k_s3_max_parts ? 1 : 0);
  return std::max({configured, for_count, k_s3_min_part_bytes});
}

namespace {

// A request on one object's multipart upload (query "uploads=", "partNumber=N&uploadId=X" or "uploadId=X").
ServiceRequest upload_request(const char* operation, const char* method, const std::string& bucket, const std::string& key,
                              std::vector<std::pair<std::string, std::string>> query) {
  ServiceRequest r = object_request(operation, method, bucket, key);
  r.query = canonical_query(std::move(query));
  return r;
}

// The whole exchange's time limit for a body of bytes: 30 s plus 4 s per MiB (a link of 256 KiB/s still finishes).
std::chrono::milliseconds upload_timeout(std::size_t bytes) {
  return std::chrono::milliseconds(30'000 + static_cast<std::int64_t>(bytes / (1 << 20)) * 4'000);
}

// An open file descriptor, closed when it goes.
struct FileHandle {
  int fd = -1;
  ~FileHandle() {
    if (fd >= 0) ::close(fd);
  }
};

// Reads exactly length bytes from fd into buffer (resized to length); a short read is an error.
std::optional<std::string> read_exactly(int fd, std::string& buffer, std::size_t length) {
  buffer.resize(length);
  std::size_t done = 0;
  while (done < length) {
    ssize_t n = ::read(fd, buffer.data() + done, length - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::string("read error: ") + std::strerror(errno);
    if (n == 0) return std::string("shorter than it was when the upload began (changed while it was being uploaded)");
    done += static_cast<std::size_t>(n);
  }
  return std::nullopt;
}

} // namespace

Result<std::string> S3Client::create_multipart_upload(const std::string& bucket, const std::string& key,
                                                      const std::string& content_type) {
  ServiceRequest r = upload_request("CreateMultipartUpload", "POST", bucket, key, {{"uploads", ""}});
  r.headers = {{"Content-Type", content_type}};
  auto response = m_session->send(r);
  if (!response) return Failure(response.error());
  pugi::xml_document doc;
  auto root = xml::parse(doc, response->body, Service::s3, "CreateMultipartUpload", m_session->region());
  if (!root) return Failure(root.error());
  std::string id(util::trim(root->child_value("UploadId")));
  if (id.empty()) {
    AwsError e;
    e.kind = ErrorKind::parse;
    e.service = "s3";
    e.operation = "CreateMultipartUpload";
    e.region = m_session->region();
    e.message = "the answer carries no UploadId";
    return Failure(e);
  }
  return id;
}

Result<std::string> S3Client::upload_part(const std::string& bucket, const std::string& key, const std::string& upload_id,
                                          int part_number, std::string body, const std::atomic<bool>* cancel) {
  ServiceRequest r = upload_request("UploadPart", "PUT", bucket, key, {{"partNumber", std::to_string(part_number)}, {"uploadId", upload_id}});
  r.headers = {{"Content-MD5", md5_base64(body)}};
  r.timeout = upload_timeout(body.size());
  r.body = std::move(body);
  r.cancel = cancel;
  auto response = m_session->send(std::move(r));
  if (!response) return Failure(response.error());
  return response->header("etag");
}

Result<std::string> S3Client::complete_multipart_upload(const std::string& bucket, const std::string& key,
                                                        const std::string& upload_id, const std::vector<CompletedPart>& parts) {
  std::string body = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";
  for (const auto& p : parts)
    body += "<Part><ETag>" + xml_escape(p.etag) + "</ETag><PartNumber>" + std::to_string(p.number) + "</PartNumber></Part>";
  body += "</CompleteMultipartUpload>";
  ServiceRequest r = upload_request("CompleteMultipartUpload", "POST", bucket, key, {{"uploadId", upload_id}});
  r.headers = {{"Content-Type", "application/xml"}};
  r.body = std::move(body);
  // S3 may answer 200 and report a failure in the body (it keeps the connection alive while it assembles the
  // parts): an <Error> document there is an error, retried like a 5xx when it is transient.
  for (int attempt = 1;; ++attempt) {
    auto response = m_session->send(r);
    if (!response) return Failure(response.error());
    pugi::xml_document doc;
    auto root = xml::parse(doc, response->body, Service::s3, "CompleteMultipartUpload", m_session->region());
    if (!root) return Failure(root.error());
    if (std::string_view(root->name()) != "Error") return std::string(util::trim(root->child_value("ETag")));
    AwsError e = parse_error_response(*response);
    e.service = "s3";
    e.operation = "CompleteMultipartUpload";
    e.region = m_session->region();
    e.attempts = attempt;
    if (!e.retryable() || attempt >= 3) return Failure(e);
  }
}

Result<void> S3Client::abort_multipart_upload(const std::string& bucket, const std::string& key, const std::string& upload_id) {
  auto response = m_session->send(upload_request("AbortMultipartUpload", "DELETE", bucket, key, {{"uploadId", upload_id}}));
  if (!response) return Failure(response.error());
  return {};
}

Result<PutFileResult> S3Client::put_file(const std::string& bucket, const std::string& key, const std::filesystem::path& path,
                                         const std::optional<MultipartSettings>& settings, const std::string& content_type) {
  const std::string where = "uploading " + path.string() + " to s3://" + bucket + "/" + key;
  auto fail = [&](AwsError e) {
    e.message = where + ": " + e.message;
    return Failure(std::move(e));
  };
  auto local = [&](const char* operation, const std::string& what) {
    AwsError e;
    e.kind = ErrorKind::config;
    e.service = "s3";
    e.operation = operation;
    e.region = m_session->region();
    e.message = what;
    return fail(e);
  };
  auto configured = settings ? Result<MultipartSettings>(*settings) : multipart_settings(m_session->environment());
  if (!configured) return fail(configured.error());
  const MultipartSettings& s = *configured;
  FileHandle file;
  file.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st {};
  if (file.fd < 0 || ::fstat(file.fd, &st) != 0) return local("PutObject", std::string("cannot read it: ") + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return local("PutObject", "not a regular file");
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size > k_s3_max_object_bytes) return local("PutObject", std::to_string(size) + " bytes: S3 objects are at most 5 TiB");
  PutFileResult result;
  result.bytes = size;
  Sha256Stream sha;
  if (size <= std::min(s.threshold, k_s3_max_put_bytes)) {
    std::string buffer;
    if (auto error = read_exactly(file.fd, buffer, size)) return local("PutObject", *error);
    sha.update(buffer);
    ServiceRequest r = object_request("PutObject", "PUT", bucket, key);
    r.headers = {{"Content-Type", content_type}, {"Content-MD5", md5_base64(buffer)}};
    r.body = std::move(buffer);
    r.timeout = upload_timeout(r.body.size());
    auto response = m_session->send(std::move(r));
    if (!response) return fail(response.error());
    result.etag = response->header("etag");
    result.sha256 = sha.hex();
    return result;
  }
  const std::uint64_t part_bytes = multipart_part_bytes(size, s.part_bytes);
  if (part_bytes > k_s3_max_part_bytes)
    return local("UploadPart", "parts of " + std::to_string(part_bytes) + " bytes: S3's parts are at most 5 GiB");
  const std::uint64_t count = size / part_bytes + (size % part_bytes ? 1 : 0);
  auto id = create_multipart_upload(bucket, key, content_type);
  if (!id) return fail(id.error());
  // From here on every failure aborts the upload, so S3 keeps (and bills) no orphaned parts.
  auto abandon = [&](AwsError e) {
    if (auto aborted = abort_multipart_upload(bucket, key, *id); !aborted)
      e.message += " (the unfinished upload could not be aborted either: " + aborted.error().to_string() +
                   "; the bucket's AbortIncompleteMultipartUpload rule from `spawn aws setup` removes it)";
    return fail(std::move(e));
  };
  // One reader (this thread) reads the file in order, hashes what it read (the SHA-256 is of exactly the bytes
  // sent, in file order) and queues each part for the senders, one thread per part in flight, each with its own
  // connection (the transport's pool). A part is read only when fewer than concurrency parts are held (queued or
  // being sent), so memory stays bounded at concurrency parts. The first failure stops everything: the reader
  // reads no further, queued parts are dropped, parts in flight are cancelled.
  const unsigned concurrency = std::max(1u, std::min(s.concurrency, k_max_transfer_concurrency));
  std::vector<CompletedPart> parts(count);
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<std::pair<int, std::string>> queue;  // part number, its bytes
  unsigned held = 0;
  bool all_read = false;
  std::optional<AwsError> failure;  // the first
  std::atomic<bool> stop{false};
  auto fail_first = [&](AwsError e) {  // with mutex held
    if (!failure) failure = std::move(e);
    stop = true;
  };
  auto send_parts = [&] {
    while (true) {
      std::pair<int, std::string> part;
      {
        std::unique_lock lock(mutex);
        changed.wait(lock, [&] { return !queue.empty() || all_read || stop; });
        if (stop || queue.empty()) return;
        part = std::move(queue.front());
        queue.pop_front();
      }
      const int n = part.first;
      auto etag = upload_part(bucket, key, *id, n, std::move(part.second), &stop);
      {
        std::lock_guard lock(mutex);
        if (etag) {
          parts[static_cast<std::size_t>(n - 1)] = {n, *etag};
        } else {
          AwsError e = etag.error();
          e.message = "part " + std::to_string(n) + " of " + std::to_string(count) + ": " + e.message;
          fail_first(std::move(e));
        }
        --held;
      }
      changed.notify_all();
    }
  };
  std::vector<std::thread> senders;
  for (std::uint64_t i = 0; i < std::min<std::uint64_t>(concurrency, count); ++i) senders.emplace_back(send_parts);
  for (std::uint64_t n = 1; n <= count; ++n) {
    {
      std::unique_lock lock(mutex);
      changed.wait(lock, [&] { return held < concurrency || stop; });
      if (stop) break;
      ++held;
    }
    const std::uint64_t length = n < count ? part_bytes : size - part_bytes * (count - 1);
    std::string buffer;
    if (auto error = read_exactly(file.fd, buffer, length)) {
      AwsError e;
      e.kind = ErrorKind::config;
      e.service = "s3";
      e.operation = "UploadPart";
      e.region = m_session->region();
      e.message = *error;
      std::lock_guard lock(mutex);
      fail_first(std::move(e));
      break;
    }
    sha.update(buffer);
    {
      std::lock_guard lock(mutex);
      queue.emplace_back(static_cast<int>(n), std::move(buffer));
    }
    changed.notify_all();
  }
  {
    std::lock_guard lock(mutex);
    all_read = true;
  }
  changed.notify_all();
  for (auto& t : senders) t.join();
  if (failure) return abandon(*failure);
  auto etag = complete_multipart_upload(bucket, key, *id, parts);
  if (!etag) return abandon(etag.error());
  result.etag = *etag;
  result.parts = count;
  result.sha256 = sha.hex();
  return result;
}

Result<std::string> S3Client::get_object(const std::string& bucket, const std::string& key) {
  auto response = m_session->send(object_request("GetObject", "GET", bucket, key));
  if (!response) return Failure(response.error());
  return std::move(response->body);
}

namespace {

// One byte range of a download's body into an AtomicFile at its offset (pwrite: ranges arrive side by side). A
// retried attempt writes its range over again; the first range, alone while it is fetched, empties the file first
// (a server that ignored Range sent the whole object, whose size may have changed since).
class RangeSink final : public BodySink {
public:
  RangeSink(util::AtomicFile& file, std::uint64_t start, bool first) : m_file(file), m_start(start), m_first(first) {}
  Expected<void> restart() override {
    m_error.clear();
    m_bytes = 0;
    return m_first ? m_file.restart() : Expected<void>();
  }
  Expected<void> write(std::string_view chunk) override {
    auto w = m_file.write_at(m_start + m_bytes, chunk);
    if (!w) m_error = w.error();
    m_bytes += chunk.size();
    return w;
  }
  std::string error() const override { return m_error; }
  std::uint64_t bytes() const { return m_bytes; }

private:
  util::AtomicFile& m_file;
  std::uint64_t m_start;
  bool m_first;
  std::string m_error;
  std::uint64_t m_bytes = 0;
};

// "bytes FIRST-LAST/TOTAL" (a 206 answer's Content-Range): FIRST, LAST and TOTAL, or nullopt.
std::optional<std::array<std::uint64_t, 3>> content_range(std::string_view text) {
  if (!text.starts_with("bytes ")) return std::nullopt;
  text.remove_prefix(6);
  auto dash = text.find('-'), slash = text.find('/');
  if (dash == std::string_view::npos || slash == std::string_view::npos || slash < dash) return std::nullopt;
  auto first = util::parse_uint(text.substr(0, dash)), last = util::parse_uint(text.substr(dash + 1, slash - dash - 1)),
       total = util::parse_uint(text.substr(slash + 1));
  if (!first || !last || !total || *last < *first || *last >= *total) return std::nullopt;
  return std::array<std::uint64_t, 3>{*first, *last, *total};
}

} // namespace

Result<std::uint64_t> S3Client::get_object_to_file(const std::string& bucket, const std::string& key,
                                                   const std::filesystem::path& path,
                                                   const std::optional<MultipartSettings>& settings) {
  const std::string where = "s3://" + bucket + "/" + key;
  auto local_error = [&](const std::string& message) {
    AwsError e;
    e.kind = ErrorKind::local;
    e.service = "s3";
    e.operation = "GetObject";
    e.region = m_session->region();
    e.message = message;
    return Failure(e);
  };
  auto configured = settings ? Result<MultipartSettings>(*settings) : multipart_settings(m_session->environment());
  if (!configured) return Failure(configured.error());
  const MultipartSettings& s = *configured;
  const std::uint64_t chunk = std::max<std::uint64_t>(1, s.part_bytes);
  auto file = util::AtomicFile::create(path);
  if (!file) return local_error(file.error());
  // The first range says the object's size (Content-Range) and its ETag; an object no larger than one range is
  // whole after it (one request, as a plain GET).
  auto r = object_request("GetObject", "GET", bucket, key);
  r.headers = {{"Range", "bytes=0-" + std::to_string(chunk - 1)}};
  RangeSink first(*file, 0, true);
  r.sink = &first;
  auto response = m_session->send(std::move(r));
  if (!response) {
    // 416 to a range from byte 0: the object exists and is empty.
    if (response.error().http_status == 416) {
      if (auto c = file->commit(); !c) return local_error(c.error());
      return std::uint64_t{0};
    }
    return Failure(response.error());
  }
  std::uint64_t total = first.bytes();
  if (response->status == 206) {
    auto range = content_range(response->header("content-range"));
    if (!range || (*range)[0] != 0 || (*range)[1] + 1 != first.bytes())
      return local_error(path.string() + ": " + where + " arrived with " + std::to_string(first.bytes()) +
                         " bytes of its first range (Content-Range " + util::quote(response->header("content-range")) + ")");
    total = (*range)[2];
  } else {
    // A server that ignores Range answers 200 with the whole object. A body cut short with no error from the
    // transport would be a truncated file: the length says so.
    auto length = util::parse_uint(response->header("content-length"));
    if (length && response->header("content-encoding").empty() && *length != first.bytes())
      return local_error(path.string() + ": " + where + " arrived with " + std::to_string(first.bytes()) + " of its " +
                         std::to_string(*length) + " bytes");
  }
  if (total > first.bytes()) {
    // The rest in ranges, concurrency of them at once, each on its own connection and written where it belongs;
    // each asks for the first range's ETag (If-Match), so an object replaced meanwhile is an error, not a mixture.
    // The first failure cancels the ranges in flight.
    const std::string etag = response->header("etag");
    const std::uint64_t ranges = (total - chunk + chunk - 1) / chunk;
    std::atomic<std::uint64_t> next{0};
    std::atomic<bool> stop{false};
    std::mutex mutex;
    std::optional<AwsError> failure;
    auto fetch = [&] {
      while (!stop) {
        const std::uint64_t i = next++;
        if (i >= ranges) return;
        const std::uint64_t start = chunk * (i + 1), end = std::min(total, start + chunk) - 1;
        auto q = object_request("GetObject", "GET", bucket, key);
        q.headers = {{"Range", "bytes=" + std::to_string(start) + "-" + std::to_string(end)}};
        if (!etag.empty()) q.headers.emplace_back("If-Match", etag);
        RangeSink sink(*file, start, false);
        q.sink = &sink;
        q.cancel = &stop;
        auto got = m_session->send(std::move(q));
        std::optional<AwsError> e;
        if (!got) {
          e = got.error();
          if (e->http_status == 412) e->message = where + " changed while it was being downloaded (" + e->message + ")";
        } else if (got->status != 206 || sink.bytes() != end - start + 1) {
          e = local_error(path.string() + ": " + where + " arrived with " + std::to_string(sink.bytes()) + " of the " +
                          std::to_string(end - start + 1) + " bytes from " + std::to_string(start) + " (HTTP " +
                          std::to_string(got->status) + ")").value();
        }
        if (e) {
          std::lock_guard lock(mutex);
          if (!failure) failure = std::move(e);
          stop = true;
          return;
        }
      }
    };
    std::vector<std::thread> fetchers;
    const std::uint64_t threads = std::min<std::uint64_t>(std::max(1u, std::min(s.concurrency, k_max_transfer_concurrency)), ranges);
    for (std::uint64_t t = 0; t < threads; ++t) fetchers.emplace_back(fetch);
    for (auto& t : fetchers) t.join();
    if (failure) return Failure(*failure);
  }
  if (auto c = file->commit(); !c) return local_error(c.error());
  return total;
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
