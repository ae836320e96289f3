#pragma once
// The job's files travel with it (docs/aws.md "The working directory"): the client uploads the working directory
// to S3 as content-addressed blobs (<prefix>/files/<sha256>, only those missing) plus a per-job listing; each
// instance fetches the listing and the blobs through presigned GETs before the script starts, with stage-in
// objects and S3 path mappings added to the same listing, and mounts EFS path mappings; after the script it packs
// what it created or changed (against the listing) into one archive per area (the working directory, each
// stage-out, each S3 path mapping), PUT through presigned URLs; the client extracts the working directory's
// archive into the directory the job was submitted from and copies the others to their S3 destinations.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "aws/s3.hpp"
#include "aws/session.hpp"
#include "core/plan.hpp"
#include "providers/aws/archive.hpp"
#include "util/error.hpp"

namespace spawn::providers::aws {

// gitignore-like patterns (the subset docs/aws.md lists): `#` comments, `!` re-includes, a trailing `/` for
// directories only, a `/` at the start or in the middle anchors the pattern at the top, `*`, `?`, `[a-z]`,
// `[!a]`, `\` escapes and `**` as whole path segments. The last matching pattern decides.
class IgnoreRules {
public:
  // Adds one pattern; blank lines and comments are skipped. origin names it in errors (".spawnignore:3").
  Expected<void> add(std::string_view pattern, const std::string& origin);
  // Whether rel ("a/b.txt", no leading "./") is excluded; is_dir when it names a directory.
  bool ignored(std::string_view rel, bool is_dir) const;

private:
  struct Rule {
    std::vector<std::string> segments;
    bool negate = false;
    bool dir_only = false;
  };
  std::vector<Rule> m_rules;
};

// One entry of the working directory's listing.
struct TreeEntry {
  char kind = 'f';           // 'f' file, 'd' directory, 'l' symbolic link
  std::string path;          // relative to the directory, '/'-separated
  std::uint32_t mode = 0644; // permission bits
  std::uint64_t size = 0;
  std::int64_t mtime = 0;    // seconds since the epoch
  std::string sha256;        // files: the content's hash ("" when not hashed); links: the target
};

struct Tree {
  std::vector<TreeEntry> entries;  // directories before what they hold
  std::uint64_t files() const;
  std::uint64_t bytes() const;
};

struct ScanOptions {
  bool hash = true;                           // false: sizes only (estimates, the confirmation at submit)
  std::optional<std::filesystem::path> cache; // path/size/mtime -> sha256, so unchanged files are not read again
  std::vector<std::filesystem::path> skip;    // never travels (spawn's own state directory)
};

// Every file, directory and symbolic link under dir that the policy's exclude patterns and then dir/.spawnignore
// leave, in path order. Errors (all of them, one per line): a link leading outside dir, a name with a tab or a
// newline, an unreadable file, a bad pattern.
Expected<Tree> scan_directory(const std::filesystem::path& dir, const WorkdirPolicy& policy, const ScanOptions& options);

// What of plan.work_dir travels (scan_directory with the plan's policy, plus the files the job's --output and
// --error patterns name, and spawn's data directory skipped). The error holds one problem per line.
Expected<Tree> travelling_files(const Plan& plan, const std::filesystem::path& data_home, bool hash);

// Time to upload bytes at the bandwidth estimates state (100 Mbit/s), in whole seconds (at least 1 when bytes > 0).
inline constexpr std::uint64_t k_estimate_upload_bits_per_second = 100'000'000;
std::int64_t upload_seconds(std::uint64_t bytes);

// The content hashes of tree's files that are not in `stored`, each once, in tree order: what an upload sends.
std::vector<std::string> missing_blobs(const Tree& tree, const std::set<std::string>& stored);

// Where the hash cache of dir lives under spawn's data directory.
std::filesystem::path hash_cache_path(const std::filesystem::path& data_home, const std::filesystem::path& dir);

// "12 files, 3.4 MiB".
std::string describe_size(std::uint64_t files, std::uint64_t bytes);

// What a task sends back goes up in pieces (S3 takes at most 5 GB in one PUT): k_back_pieces presigned PUTs per
// area of k_back_piece_bytes each (SPAWN_AWS_BACK_PIECE_BYTES), so at most 64 GiB per area by default; more is an
// error in the task's log and exit status, never a silent truncation.
inline constexpr std::size_t k_back_pieces = 16;
inline constexpr std::uint64_t k_back_piece_bytes = 4ull << 30;
inline constexpr std::uint64_t k_max_back_piece_bytes = 5ull << 30;

// What the provider lends the transfer code.
struct Transfer {
  spawn::aws::Session& session;
  spawn::aws::S3Client& s3;
  std::string bucket;
  std::string prefix;      // aws.prefix: blobs go to <prefix>/files/<sha256>
  std::string job_prefix;  // <prefix>/jobs/<id>
  std::chrono::seconds validity;
  std::uint64_t back_piece_bytes = k_back_piece_bytes;  // what comes back goes up in pieces of this size
};

// What one job's instances fetch (made once per job).
struct JobFiles {
  std::optional<std::string> listing_url;  // presigned GET of the listing; nullopt: nothing to fetch
  std::uint64_t files = 0, bytes = 0;                    // the working directory
  std::uint64_t uploaded_files = 0, uploaded_bytes = 0;  // what was not in S3 yet
};

// Scans and uploads the working directory (when plan.workdir.travel), lists the stage-in sources and S3 path
// mappings, and stores the job's listing. Errors name the file, the S3 URL or the request that failed.
Expected<JobFiles> upload_job_files(const Transfer& transfer, const Plan& plan, const std::filesystem::path& data_home);

// Writes workdir.sh and workdir.conf into the staged task directory `stage` and the record of what comes back
// into record_file; nothing when the job moves no files. outputs: the Slurm output files' instance paths (they
// come back their own way). instance_work: the instance's working directory as the task files name it.
Expected<void> prepare_task_files(const Transfer& transfer, const Plan& plan, const JobFiles& files,
                                  const std::string& task_name, const std::filesystem::path& stage,
                                  const std::string& instance_work, const std::vector<std::string>& outputs,
                                  const std::filesystem::path& record_file);

// One area's archive into destination: a local directory (files and directories, each file through a temporary
// beside it, renamed with its mode and mtime; a member whose name or directory leads outside is refused) or an
// s3:// URL (files to keys below it through s3, staged one at a time in scratch). Returns the problems, naming
// the archive as `where`; memory bounded by buffer_bytes.
std::vector<std::string> extract_archive(const PieceSource& pieces, const std::string& destination,
                                         const std::string& where, spawn::aws::S3Client* s3,
                                         const std::filesystem::path& scratch, std::size_t buffer_bytes = 1 << 20);

// After the task: fetches the archives record_file names (each in pieces KEY.000, KEY.001, ..., streamed: memory
// bounded by buffer_bytes whatever their size) and puts their files in place (each file atomically, with its mode
// and mtime); returns what could not be brought back (empty when all was). Pieces are downloaded one at a time
// beside record_file.
std::vector<std::string> bring_back(spawn::aws::S3Client& s3, const std::string& bucket,
                                    const std::filesystem::path& record_file, std::size_t buffer_bytes = 1 << 20);

} // namespace spawn::providers::aws
