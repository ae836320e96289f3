// S3Client::put_file against a fake S3 transport: one PutObject at or below the threshold, a multipart upload
// above it (part sizes and count, the 10,000-part rule, the parts' bodies are the file), every failure aborting the
// upload and naming the file and key, a 200 answer with an <Error> body taken as the error it is, and the settings
// from SPAWN_AWS_MULTIPART_THRESHOLD / SPAWN_AWS_MULTIPART_PART_BYTES.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <unistd.h>

#include "aws/encoding.hpp"
#include "aws/s3.hpp"
#include "util/files.hpp"
#include "util/strings.hpp"

using namespace spawn::aws;
namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t MiB = 1ull << 20;

// Answers as S3 does: an UploadId, each part's ETag (the MD5 of its body), the object's ETag at Complete.
// on_request may replace an answer (to fail a part; status 0: no answer at all, a network error), act (to change
// the file while it is being read) or wait (to hold parts in flight); it is called from the senders' threads, outside
// the lock that guards requests.
class FakeS3 final : public Transport {
public:
  spawn::Expected<HttpResponse> send(const HttpRequest& request) override {
    {
      std::lock_guard lock(mutex);
      requests.push_back(request);
    }
    HttpResponse r;
    r.status = 200;
    const std::string& q = query(request);
    if (request.method == "POST" && q == "uploads=") {
      r.body = "<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>up-1</UploadId></InitiateMultipartUploadResult>";
    } else if (request.method == "PUT") {
      r.headers = {{"etag", "\"" + md5_hex(request.body) + "\""}};
    } else if (request.method == "POST" && q == "uploadId=up-1") {
      r.body = "<CompleteMultipartUploadResult><ETag>\"abc-5\"</ETag></CompleteMultipartUploadResult>";
    } else if (request.method == "DELETE") {
      r.status = 204;
    } else if (request.method == "GET") {
      answer_get(request, r);
    }
    if (on_request) on_request(request, r);
    if (r.status == 0) return tl::unexpected(std::string("connection reset"));
    return r;
  }
  // GetObject of `object` (ETag "obj"), one byte range as S3 answers it: 206 with Content-Range, 416 past the end.
  void answer_get(const HttpRequest& request, HttpResponse& r) const {
    std::string range;
    for (const auto& [k, v] : request.headers)
      if (k == "Range") range = v;
    auto dash = range.find('-');
    if (!range.starts_with("bytes=") || dash == std::string::npos) {
      r.body = object;
      return;
    }
    std::uint64_t first = std::stoull(range.substr(6, dash - 6)), last = std::stoull(range.substr(dash + 1));
    if (first >= object.size()) {
      r.status = 416;
      r.body = "<Error><Code>InvalidRange</Code><Message>The requested range is not satisfiable</Message></Error>";
      return;
    }
    last = std::min<std::uint64_t>(last, object.size() - 1);
    r.status = 206;
    r.body = object.substr(first, last - first + 1);
    r.headers = {{"etag", "\"obj\""},
                 {"content-range", "bytes " + std::to_string(first) + "-" + std::to_string(last) + "/" + std::to_string(object.size())}};
  }
  static std::string query(const HttpRequest& request) {
    auto q = request.url.find('?');
    return q == std::string::npos ? std::string() : request.url.substr(q + 1);
  }
  static std::string md5_hex(const std::string& body) {
    auto raw = *base64_decode(md5_base64(body));
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned char c : raw) out += {digits[c >> 4], digits[c & 15]};
    return out;
  }
  std::string object;  // what a GET answers
  std::mutex mutex;
  std::vector<HttpRequest> requests;
  std::function<void(const HttpRequest&, HttpResponse&)> on_request;
};

std::string header(const HttpRequest& r, const std::string& name) {
  for (const auto& [k, v] : r.headers)
    if (spawn::util::iequals(k, name)) return v;
  return {};
}

// The part number of an UploadPart request, 0 for any other.
int part_number(const HttpRequest& r) {
  auto q = FakeS3::query(r);
  if (r.method != "PUT" || !q.starts_with("partNumber=")) return 0;
  return std::stoi(q.substr(11));
}

// Waits (polling, at most 30 s: a generous deadline under sanitizers) until done() holds; false if it never did.
bool wait_until(const std::function<bool()>& done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

struct Fixture {
  std::shared_ptr<FakeS3> s3 = std::make_shared<FakeS3>();
  std::shared_ptr<Session> session;
  static inline int s_counter = 0;
  fs::path dir = fs::temp_directory_path() / ("spawn-multipart-" + std::to_string(::getpid()) + "-" + std::to_string(s_counter++));

  Fixture() : Fixture(std::map<std::string, std::string>{}) {}
  explicit Fixture(std::map<std::string, std::string> env) {
    env["AWS_ENDPOINT_URL"] = "http://127.0.0.1:1";
    SessionOptions o;
    o.region = "us-east-1";
    o.environment = fixed_environment(env);
    o.transport = s3;
    o.credentials = CredentialsProvider::fixed({"AKIDEXAMPLE", "secret", "", std::nullopt, "test"});
    o.retry.max_attempts = 1;
    session = *Session::create(o);
    fs::create_directories(dir);
  }
  ~Fixture() { fs::remove_all(dir); }
  // A file of size random bytes.
  fs::path file(std::uint64_t size, const std::string& name = "data.bin") {
    std::string bytes(size, '\0');
    std::mt19937_64 random(size);
    for (auto& c : bytes) c = static_cast<char>(random());
    fs::path p = dir / name;
    std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    content = bytes;
    return p;
  }
  std::vector<HttpRequest> with(const std::string& method, const std::string& query_start) const {
    std::vector<HttpRequest> out;
    for (const auto& r : s3->requests)
      if (r.method == method && FakeS3::query(r).starts_with(query_start)) out.push_back(r);
    return out;
  }
  std::string content;
};


} // namespace

TEST(AwsMultipart, PartSizeKeepsEveryUploadWithinS3Limits) {
  EXPECT_EQ(multipart_part_bytes(100 * MiB, 16 * MiB), 16 * MiB);  // the configured size
  EXPECT_EQ(multipart_part_bytes(100 * MiB, 1 * MiB), 5 * MiB);    // never below S3's minimum
  // 1 TiB in 16 MiB parts would be 65,536 parts: the part grows to ceil(size / 10,000).
  const std::uint64_t tib = 1ull << 40;
  EXPECT_EQ(multipart_part_bytes(tib, 16 * MiB), tib / 10'000 + 1);
  for (std::uint64_t size : std::vector<std::uint64_t>{16 * MiB + 1, 160'000 * MiB, 160'000 * MiB + 1, tib, k_s3_max_object_bytes, 123'456'789'012ull}) {
    std::uint64_t part = multipart_part_bytes(size, 16 * MiB);
    std::uint64_t count = (size + part - 1) / part;
    EXPECT_LE(count, k_s3_max_parts) << size;
    EXPECT_GE(part, k_s3_min_part_bytes) << size;
    EXPECT_LE(part, k_s3_max_part_bytes) << size;
  }
}

TEST(AwsMultipart, AtOrBelowTheThresholdOnePutObject) {
  Fixture f;
  auto path = f.file(8 * MiB);
  auto put = S3Client(f.session).put_file("b", "files/x", path, MultipartSettings{8 * MiB, 5 * MiB});
  ASSERT_TRUE(put) << put.error().to_string();
  ASSERT_EQ(f.s3->requests.size(), 1u);
  const auto& r = f.s3->requests[0];
  EXPECT_EQ(r.method, "PUT");
  EXPECT_EQ(FakeS3::query(r), "");
  EXPECT_TRUE(r.body == f.content);
  EXPECT_EQ(header(r, "Content-MD5"), md5_base64(f.content));
  EXPECT_EQ(put->parts, 0u);
  EXPECT_EQ(put->bytes, 8 * MiB);
  EXPECT_EQ(put->sha256, sha256_hex(f.content));
  // An empty file is one empty PutObject.
  Fixture g;
  auto empty = S3Client(g.session).put_file("b", "files/e", g.file(0));
  ASSERT_TRUE(empty) << empty.error().to_string();
  ASSERT_EQ(g.s3->requests.size(), 1u);
  EXPECT_EQ(empty->sha256, sha256_hex(""));
}

TEST(AwsMultipart, AboveTheThresholdPartsOfThePartSizeCompletedInOrder) {
  Fixture f;
  auto path = f.file(24 * MiB + 3);
  auto put = S3Client(f.session).put_file("b", "files/x", path, MultipartSettings{8 * MiB, 5 * MiB});
  ASSERT_TRUE(put) << put.error().to_string();
  ASSERT_EQ(f.with("POST", "uploads=").size(), 1u);
  auto parts = f.with("PUT", "partNumber=");  // sent concurrently (8 at once by default): in any order
  ASSERT_EQ(parts.size(), 5u);
  std::sort(parts.begin(), parts.end(), [](const HttpRequest& a, const HttpRequest& b) { return part_number(a) < part_number(b); });
  std::string joined;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    EXPECT_EQ(FakeS3::query(parts[i]), "partNumber=" + std::to_string(i + 1) + "&uploadId=up-1");
    EXPECT_EQ(parts[i].body.size(), i < 4 ? 5 * MiB : 4 * MiB + 3) << i;
    EXPECT_EQ(header(parts[i], "Content-MD5"), md5_base64(parts[i].body));
    joined += parts[i].body;
  }
  EXPECT_TRUE(joined == f.content);
  EXPECT_TRUE(f.with("PUT", "").size() == 5u) << "no PutObject besides the parts";
  auto complete = f.with("POST", "uploadId=up-1");
  ASSERT_EQ(complete.size(), 1u);
  std::string expected = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";
  for (std::size_t i = 0; i < parts.size(); ++i)
    expected += "<Part><ETag>&quot;" + FakeS3::md5_hex(parts[i].body) + "&quot;</ETag><PartNumber>" + std::to_string(i + 1) +
                "</PartNumber></Part>";
  EXPECT_EQ(complete[0].body, expected + "</CompleteMultipartUpload>");
  EXPECT_TRUE(f.with("DELETE", "").empty());
  EXPECT_EQ(put->parts, 5u);
  EXPECT_EQ(put->etag, "\"abc-5\"");
  EXPECT_EQ(put->sha256, sha256_hex(f.content));
}

TEST(AwsMultipart, SettingsComeFromTheEnvironment) {
  Fixture f(std::map<std::string, std::string>{{"SPAWN_AWS_MULTIPART_THRESHOLD", "6291456"}, {"SPAWN_AWS_MULTIPART_PART_BYTES", "5242880"}});
  auto put = S3Client(f.session).put_file("b", "k", f.file(12 * MiB));
  ASSERT_TRUE(put) << put.error().to_string();
  EXPECT_EQ(put->parts, 3u);  // 5 + 5 + 2 MiB
  auto defaults = multipart_settings(fixed_environment({}));
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->threshold, 16 * MiB);
  EXPECT_EQ(defaults->part_bytes, 16 * MiB);
  EXPECT_EQ(defaults->concurrency, 8u);
  auto one = multipart_settings(fixed_environment({{"SPAWN_AWS_TRANSFER_CONCURRENCY", "1"}}));
  ASSERT_TRUE(one);
  EXPECT_EQ(one->concurrency, 1u);
  for (const char* wrong : {"0", "65", "eight", "-2"}) {
    auto bad_concurrency = multipart_settings(fixed_environment({{"SPAWN_AWS_TRANSFER_CONCURRENCY", wrong}}));
    ASSERT_FALSE(bad_concurrency) << wrong;
    EXPECT_NE(bad_concurrency.error().message.find(std::string("SPAWN_AWS_TRANSFER_CONCURRENCY=\"") + wrong + "\""), std::string::npos)
        << bad_concurrency.error().message;
  }
  Fixture bad(std::map<std::string, std::string>{{"SPAWN_AWS_MULTIPART_PART_BYTES", "16M"}});
  auto refused = S3Client(bad.session).put_file("b", "k", bad.file(1));
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("SPAWN_AWS_MULTIPART_PART_BYTES=\"16M\""), std::string::npos) << refused.error().message;
  EXPECT_TRUE(bad.s3->requests.empty());
}

TEST(AwsMultipart, AFailedPartAbortsTheUploadAndNamesFileAndKey) {
  Fixture f;
  f.s3->on_request = [](const HttpRequest& r, HttpResponse& answer) {
    if (FakeS3::query(r).starts_with("partNumber=3&")) {
      answer.status = 400;
      answer.body = "<Error><Code>InvalidArgument</Code><Message>refused</Message></Error>";
    }
  };
  auto path = f.file(24 * MiB);
  // One part at a time (SPAWN_AWS_TRANSFER_CONCURRENCY=1): nothing is sent after the failed part.
  auto put = S3Client(f.session).put_file("b", "files/x", path, MultipartSettings{8 * MiB, 5 * MiB, 1});
  ASSERT_FALSE(put);
  std::string text = put.error().to_string();
  EXPECT_NE(text.find(path.string()), std::string::npos) << text;
  EXPECT_NE(text.find("s3://b/files/x"), std::string::npos) << text;
  EXPECT_NE(text.find("part 3 of 5"), std::string::npos) << text;
  EXPECT_EQ(put.error().code, "InvalidArgument");
  EXPECT_EQ(f.with("PUT", "partNumber=").size(), 3u) << "no part after the failed one";
  EXPECT_TRUE(f.with("POST", "uploadId=").empty()) << "never completed";
  auto aborts = f.with("DELETE", "uploadId=up-1");
  ASSERT_EQ(aborts.size(), 1u);
  EXPECT_EQ(f.s3->requests.back().method, "DELETE");
}

TEST(AwsMultipart, AnErrorInACompleteAnswerOf200IsAnError) {
  Fixture f;
  int completes = 0;
  f.s3->on_request = [&](const HttpRequest& r, HttpResponse& answer) {
    if (r.method == "POST" && FakeS3::query(r) == "uploadId=up-1") {
      ++completes;
      answer.body = "<?xml version=\"1.0\"?>\n<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>";
    }
  };
  auto put = S3Client(f.session).put_file("b", "files/x", f.file(11 * MiB), MultipartSettings{8 * MiB, 5 * MiB});
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().code, "InternalError");
  EXPECT_EQ(completes, 3) << "a transient error in a 200 answer is retried";
  EXPECT_EQ(f.with("DELETE", "uploadId=up-1").size(), 1u);
}

TEST(AwsMultipart, AFileThatShrinksWhileBeingReadAbortsTheUpload) {
  Fixture f;
  auto path = f.file(16 * MiB);
  f.s3->on_request = [&](const HttpRequest& r, HttpResponse&) {
    if (FakeS3::query(r).starts_with("partNumber=1&")) fs::resize_file(path, 6 * MiB);
  };
  auto put = S3Client(f.session).put_file("b", "files/x", path, MultipartSettings{8 * MiB, 5 * MiB, 1});
  ASSERT_FALSE(put);
  EXPECT_NE(put.error().message.find("changed while it was being uploaded"), std::string::npos) << put.error().message;
  EXPECT_EQ(f.with("DELETE", "uploadId=up-1").size(), 1u);
  EXPECT_TRUE(f.with("POST", "uploadId=").empty());
}

TEST(AwsMultipart, AMissingFileIsAnErrorNamingIt) {
  Fixture f;
  auto put = S3Client(f.session).put_file("b", "k", f.dir / "absent.bin");
  ASSERT_FALSE(put);
  EXPECT_NE(put.error().message.find((f.dir / "absent.bin").string()), std::string::npos) << put.error().message;
  EXPECT_TRUE(f.s3->requests.empty());
}

TEST(AwsMultipart, PartsAreInFlightTogetherUpToTheConcurrency) {
  // Each part's request is held until 4 are open at once: a sequential upload would never get past the first.
  // Never more than 4 are open (at most 4 parts in memory), and the object is the file, hashed in file order.
  Fixture f;
  std::atomic<int> open{0}, most{0};
  f.s3->on_request = [&](const HttpRequest& r, HttpResponse& answer) {
    if (!part_number(r)) return;
    int now = ++open;
    for (int seen = most.load(); now > seen && !most.compare_exchange_weak(seen, now);) {}
    if (!wait_until([&] { return most.load() >= 4; })) answer.status = 503;
    --open;
  };
  auto put = S3Client(f.session).put_file("b", "files/x", f.file(40 * MiB + 7), MultipartSettings{8 * MiB, 5 * MiB, 4});
  ASSERT_TRUE(put) << put.error().to_string();
  EXPECT_EQ(most.load(), 4);
  EXPECT_EQ(put->parts, 9u);
  EXPECT_EQ(put->sha256, sha256_hex(f.content));
  auto parts = f.with("PUT", "partNumber=");
  ASSERT_EQ(parts.size(), 9u);
  std::sort(parts.begin(), parts.end(), [](const HttpRequest& a, const HttpRequest& b) { return part_number(a) < part_number(b); });
  std::string joined;
  for (const auto& p : parts) joined += p.body;
  EXPECT_TRUE(joined == f.content);
}

TEST(AwsMultipart, PartsFinishingInReverseAreCompletedInOrder) {
  // Part n answers only after every later part has: they finish 4, 3, 2, 1, and Complete still lists 1..4 with
  // each part's own ETag.
  Fixture f;
  std::mutex mutex;
  std::vector<int> finished;
  f.s3->on_request = [&](const HttpRequest& r, HttpResponse& answer) {
    int n = part_number(r);
    if (!n) return;
    bool ok = wait_until([&] {
      std::lock_guard lock(mutex);
      return static_cast<int>(finished.size()) == 4 - n;
    });
    if (!ok) answer.status = 503;
    std::lock_guard lock(mutex);
    finished.push_back(n);
  };
  auto put = S3Client(f.session).put_file("b", "files/x", f.file(18 * MiB), MultipartSettings{8 * MiB, 5 * MiB, 4});
  ASSERT_TRUE(put) << put.error().to_string();
  EXPECT_EQ(finished, (std::vector<int>{4, 3, 2, 1}));
  auto complete = f.with("POST", "uploadId=up-1");
  ASSERT_EQ(complete.size(), 1u);
  std::string expected = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";
  for (std::size_t i = 0; i < 4; ++i) {
    std::string part = f.content.substr(i * 5 * MiB, i < 3 ? 5 * MiB : 3 * MiB);
    expected += "<Part><ETag>&quot;" + FakeS3::md5_hex(part) + "&quot;</ETag><PartNumber>" + std::to_string(i + 1) + "</PartNumber></Part>";
  }
  EXPECT_EQ(complete[0].body, expected + "</CompleteMultipartUpload>");
  EXPECT_EQ(put->sha256, sha256_hex(f.content));
}

TEST(AwsMultipart, AFailedPartCancelsThoseInFlightAndAbortsTheUpload) {
  // Three at once: parts 1 and 3 hang until they are cancelled; part 2 is refused once both are in flight. Nothing
  // more is read or sent, the two in flight are cancelled (not waited out), and the upload is aborted last.
  Fixture f;
  std::atomic<int> hanging{0}, saw_cancel{0};
  f.s3->on_request = [&](const HttpRequest& r, HttpResponse& answer) {
    int n = part_number(r);
    if (n == 2) {
      wait_until([&] { return hanging.load() == 2; });
      answer.status = 400;
      answer.body = "<Error><Code>InvalidArgument</Code><Message>refused</Message></Error>";
    } else if (n) {
      ++hanging;
      if (wait_until([&] { return r.cancel && r.cancel->load(); })) ++saw_cancel;
      answer.status = 0;  // what a cancelled transfer is: no answer
    }
  };
  auto put = S3Client(f.session).put_file("b", "files/x", f.file(50 * MiB), MultipartSettings{8 * MiB, 5 * MiB, 3});
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().code, "InvalidArgument");
  EXPECT_NE(put.error().message.find("part 2 of 10"), std::string::npos) << put.error().message;
  EXPECT_EQ(saw_cancel.load(), 2);
  EXPECT_EQ(f.with("PUT", "partNumber=").size(), 3u) << "no part read or sent after the failure";
  EXPECT_TRUE(f.with("POST", "uploadId=").empty()) << "never completed";
  EXPECT_EQ(f.with("DELETE", "uploadId=up-1").size(), 1u);
  EXPECT_EQ(f.s3->requests.back().method, "DELETE");
}

TEST(AwsMultipart, AFileThatShrinksWhileItsPartsAreInFlightAbortsTheUpload) {
  // Two at once: parts 1 and 2 are read, the file shrinks while they are sent, and part 3 cannot be read whole.
  Fixture f;
  auto path = f.file(16 * MiB);
  std::atomic<int> arrived{0};
  f.s3->on_request = [&](const HttpRequest& r, HttpResponse&) {
    if (int n = part_number(r); n == 1 || n == 2) {
      ++arrived;
      wait_until([&] { return arrived.load() == 2; });  // both in flight
      std::error_code ec;
      fs::resize_file(path, 6 * MiB, ec);
    }
  };
  auto put = S3Client(f.session).put_file("b", "files/x", path, MultipartSettings{8 * MiB, 5 * MiB, 2});
  ASSERT_FALSE(put);
  EXPECT_NE(put.error().message.find("changed while it was being uploaded"), std::string::npos) << put.error().message;
  EXPECT_EQ(f.with("PUT", "partNumber=").size(), 2u);
  EXPECT_EQ(f.with("DELETE", "uploadId=up-1").size(), 1u);
  EXPECT_TRUE(f.with("POST", "uploadId=").empty());
}

TEST(AwsMultipart, ADownloadFetchesItsRangesSideBySide) {
  // 40 MiB in ranges of 5 MiB: the first alone (it says the size), the other 8 held until 4 are open at once;
  // never more than 4; each later range asks for the first one's ETag; the file is the object.
  Fixture f;
  f.file(40 * MiB + 7);
  f.s3->object = f.content;
  std::atomic<int> open{0}, most{0};
  f.s3->on_request = [&](const HttpRequest& r, HttpResponse& answer) {
    if (r.method != "GET" || header(r, "Range").starts_with("bytes=0-")) return;
    int now = ++open;
    for (int seen = most.load(); now > seen && !most.compare_exchange_weak(seen, now);) {}
    if (!wait_until([&] { return most.load() >= 4; })) answer.status = 503;
    --open;
  };
  const fs::path target = f.dir / "down" / "object";
  fs::create_directories(target.parent_path());
  auto got = S3Client(f.session).get_object_to_file("b", "k", target, MultipartSettings{8 * MiB, 5 * MiB, 4});
  ASSERT_TRUE(got) << got.error().to_string();
  EXPECT_EQ(*got, 40 * MiB + 7);
  EXPECT_EQ(most.load(), 4);
  EXPECT_TRUE(spawn::util::read_file(target).value_or("") == f.content);
  auto gets = f.with("GET", "");
  ASSERT_EQ(gets.size(), 9u);
  EXPECT_EQ(header(gets[0], "Range"), "bytes=0-" + std::to_string(5 * MiB - 1));
  EXPECT_EQ(header(gets[0], "If-Match"), "");
  std::set<std::string> ranges;
  for (std::size_t i = 1; i < gets.size(); ++i) {
    EXPECT_EQ(header(gets[i], "If-Match"), "\"obj\"");
    ranges.insert(header(gets[i], "Range"));
  }
  EXPECT_EQ(ranges.size(), 8u);
  EXPECT_TRUE(ranges.count("bytes=" + std::to_string(40 * MiB) + "-" + std::to_string(40 * MiB + 6)));
  EXPECT_EQ(std::distance(fs::directory_iterator(target.parent_path()), fs::directory_iterator()), 1) << "no temporary left";
}

TEST(AwsMultipart, AnObjectReplacedWhileItIsDownloadedIsAnError) {
  // The range from 10 MiB finds another ETag (412): the download fails saying so, the ranges in flight are
  // cancelled, and the target is neither created nor left half written.
  Fixture f;
  f.file(30 * MiB);
  f.s3->object = f.content;
  std::atomic<int> hanging{0}, saw_cancel{0};
  f.s3->on_request = [&](const HttpRequest& r, HttpResponse& answer) {
    if (r.method != "GET" || header(r, "Range").starts_with("bytes=0-")) return;
    if (header(r, "Range").starts_with("bytes=" + std::to_string(10 * MiB) + "-")) {
      wait_until([&] { return hanging.load() == 2; });  // the other two are in flight
      answer = HttpResponse{};
      answer.status = 412;
      answer.body = "<Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message></Error>";
    } else {
      ++hanging;
      if (wait_until([&] { return r.cancel && r.cancel->load(); })) ++saw_cancel;
      answer.status = 0;
    }
  };
  const fs::path target = f.dir / "down" / "object";
  fs::create_directories(target.parent_path());
  auto got = S3Client(f.session).get_object_to_file("b", "k", target, MultipartSettings{8 * MiB, 5 * MiB, 3});
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, "PreconditionFailed");
  EXPECT_NE(got.error().message.find("s3://b/k changed while it was being downloaded"), std::string::npos) << got.error().message;
  EXPECT_EQ(saw_cancel.load(), 2) << "the other two ranges in flight were cancelled";
  EXPECT_EQ(f.with("GET", "").size(), 4u) << "no range asked for after the failure";
  EXPECT_TRUE(fs::is_empty(target.parent_path()));
}

TEST(AwsMultipart, ASmallOrEmptyObjectIsOneRequest) {
  Fixture f;
  f.file(3 * MiB);
  f.s3->object = f.content;
  const fs::path target = f.dir / "small";
  auto got = S3Client(f.session).get_object_to_file("b", "k", target, MultipartSettings{8 * MiB, 5 * MiB, 4});
  ASSERT_TRUE(got) << got.error().to_string();
  EXPECT_EQ(*got, 3 * MiB);
  EXPECT_TRUE(spawn::util::read_file(target).value_or("") == f.content);
  EXPECT_EQ(f.s3->requests.size(), 1u);
  Fixture g;  // an empty object: no byte 0 to ask for (416), an empty file
  const fs::path empty = g.dir / "empty";
  auto none = S3Client(g.session).get_object_to_file("b", "k", empty);
  ASSERT_TRUE(none) << none.error().to_string();
  EXPECT_EQ(*none, 0u);
  EXPECT_TRUE(fs::exists(empty));
  EXPECT_EQ(fs::file_size(empty), 0u);
  EXPECT_EQ(g.s3->requests.size(), 1u);
}
