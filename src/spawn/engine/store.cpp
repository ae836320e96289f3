#include "engine/store.hpp"

#include <cstdlib>
#include <sqlite3.h>

namespace spawn::engine {

namespace {

// The schema. Times are seconds since the epoch. tasks.reason holds the PENDING reason while a task waits and the
// final reason ("exit 3", "time limit") once it ended. meta.next_job_id only grows, so ids are never reused.
constexpr const char* k_schema = R"sql(
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta (key, value) VALUES ('next_job_id', 1), ('schema_version', 1);
CREATE TABLE IF NOT EXISTS jobs (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  user TEXT NOT NULL,
  submit_time INTEGER NOT NULL,
  provider TEXT NOT NULL,
  plan TEXT NOT NULL,
  dependency TEXT,
  is_array INTEGER NOT NULL,
  task_count INTEGER NOT NULL,
  kill_on_invalid_dep INTEGER NOT NULL,
  requeue INTEGER NOT NULL,
  nodes INTEGER NOT NULL,
  supervisor_pid INTEGER,
  cancel_requested INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_by_name ON jobs (name, user);
CREATE TABLE IF NOT EXISTS tasks (
  job_id INTEGER NOT NULL REFERENCES jobs (id),
  idx INTEGER NOT NULL,
  state TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  exit_code INTEGER,
  restart_count INTEGER NOT NULL DEFAULT 0,
  attempt INTEGER NOT NULL DEFAULT 0,
  handle TEXT,
  task_job_id INTEGER NOT NULL,
  submit_time INTEGER NOT NULL,
  launch_time INTEGER,
  start_time INTEGER,
  end_time INTEGER,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  provider TEXT,
  PRIMARY KEY (job_id, idx)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tasks_by_task_job_id ON tasks (task_job_id);
CREATE INDEX IF NOT EXISTS tasks_by_state ON tasks (job_id, state);
CREATE TABLE IF NOT EXISTS transitions (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id INTEGER NOT NULL,
  idx INTEGER NOT NULL,
  time INTEGER NOT NULL,
  from_state TEXT NOT NULL,
  to_state TEXT NOT NULL,
  reason TEXT NOT NULL,
  restart_count INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS transitions_by_job ON transitions (job_id, seq);
)sql";

constexpr const char* k_job_columns =
    "id, name, user, submit_time, provider, plan, dependency, is_array, task_count, kill_on_invalid_dep, requeue, "
    "nodes, supervisor_pid, cancel_requested";
constexpr const char* k_task_columns =
    "job_id, idx, state, reason, exit_code, restart_count, handle, task_job_id, submit_time, launch_time, "
    "start_time, end_time, cancel_requested, attempt, provider";

class Statement {
public:
  Statement(sqlite3* db, const char* sql) : m_db(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &m_stmt, nullptr) != SQLITE_OK) m_error = sqlite3_errmsg(db);
  }
  ~Statement() { sqlite3_finalize(m_stmt); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  bool ok() const { return m_error.empty(); }
  const std::string& error() const { return m_error; }

  Statement& bind(int i, std::int64_t v) {
    sqlite3_bind_int64(m_stmt, i, v);
    return *this;
  }
  Statement& bind(int i, std::uint64_t v) { return bind(i, static_cast<std::int64_t>(v)); }
  Statement& bind(int i, int v) { return bind(i, static_cast<std::int64_t>(v)); }
  Statement& bind(int i, bool v) { return bind(i, static_cast<std::int64_t>(v ? 1 : 0)); }
  Statement& bind(int i, const std::string& v) {
    sqlite3_bind_text(m_stmt, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  template <typename T> Statement& bind(int i, const std::optional<T>& v) {
    if (!v) {
      sqlite3_bind_null(m_stmt, i);
      return *this;
    }
    return bind(i, *v);
  }

  // SQLITE_ROW or SQLITE_DONE; anything else is recorded in error().
  int step() {
    int rc = sqlite3_step(m_stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) m_error = sqlite3_errmsg(m_db);
    return rc;
  }
  void reset() {
    sqlite3_reset(m_stmt);
    sqlite3_clear_bindings(m_stmt);
  }

  std::int64_t i64(int c) const { return sqlite3_column_int64(m_stmt, c); }
  std::uint64_t u64(int c) const { return static_cast<std::uint64_t>(i64(c)); }
  bool null(int c) const { return sqlite3_column_type(m_stmt, c) == SQLITE_NULL; }
  std::string text(int c) const {
    auto p = sqlite3_column_text(m_stmt, c);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(m_stmt, c)))
             : std::string();
  }
  std::optional<std::int64_t> opt_i64(int c) const { return null(c) ? std::nullopt : std::optional(i64(c)); }
  std::optional<std::string> opt_text(int c) const { return null(c) ? std::nullopt : std::optional(text(c)); }

private:
  sqlite3* m_db;
  sqlite3_stmt* m_stmt = nullptr;
  std::string m_error;
};

Expected<void> exec(sqlite3* db, const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    std::string text = message ? message : sqlite3_errmsg(db);
    sqlite3_free(message);
    return Unexpected(text);
  }
  return {};
}

// A write transaction taken at once (BEGIN IMMEDIATE), so a concurrent writer waits on the busy timeout
// instead of failing half-way; rolled back unless committed.
class WriteTransaction {
public:
  explicit WriteTransaction(sqlite3* db) : m_db(db) {
    auto r = exec(db, "BEGIN IMMEDIATE");
    if (!r) m_error = r.error();
  }
  ~WriteTransaction() {
    if (m_error.empty() && !m_done) exec(m_db, "ROLLBACK");
  }
  const std::string& error() const { return m_error; }
  Expected<void> commit() {
    auto r = exec(m_db, "COMMIT");
    if (r) m_done = true;
    return r;
  }

private:
  sqlite3* m_db;
  std::string m_error;
  bool m_done = false;
};

JobRecord read_job(const Statement& s) {
  JobRecord j;
  j.id = s.u64(0);
  j.name = s.text(1);
  j.user = s.text(2);
  j.submit_time = s.i64(3);
  j.provider = s.text(4);
  j.plan_document = s.text(5);
  j.dependency = s.opt_text(6);
  j.is_array = s.i64(7) != 0;
  j.task_count = s.u64(8);
  j.kill_on_invalid_dep = s.i64(9) != 0;
  j.requeue = s.i64(10) != 0;
  j.nodes = static_cast<std::uint32_t>(s.i64(11));
  j.supervisor_pid = s.opt_i64(12);
  j.cancel_requested = s.i64(13) != 0;
  return j;
}

TaskRecord read_task(const Statement& s) {
  TaskRecord t;
  t.ref = {s.u64(0), s.u64(1)};
  t.state = task_state_from_string(s.text(2)).value_or(TaskState::pending);
  t.reason = s.text(3);
  if (auto e = s.opt_i64(4)) t.exit_code = static_cast<int>(*e);
  t.restart_count = static_cast<int>(s.i64(5));
  t.handle = s.opt_text(6);
  t.task_job_id = s.u64(7);
  t.submit_time = s.i64(8);
  t.launch_time = s.opt_i64(9);
  t.start_time = s.opt_i64(10);
  t.end_time = s.opt_i64(11);
  t.cancel_requested = s.i64(12) != 0;
  t.attempt = static_cast<std::uint32_t>(s.i64(13));
  t.provider = s.opt_text(14);
  return t;
}

std::string context(const std::filesystem::path& path) { return "state store " + path.string() + ": "; }

} // namespace

std::filesystem::path data_home() {
  if (const char* home = std::getenv("SPAWN_HOME"); home && *home) return home;
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg) return std::filesystem::path(xdg) / "spawn";
  const char* home = std::getenv("HOME");
  return std::filesystem::path(home && *home ? home : ".") / ".local" / "share" / "spawn";
}

std::filesystem::path default_state_path() { return data_home() / "state.db"; }

Expected<Store> Store::open(const std::filesystem::path& path) {
  std::error_code ec;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) return Unexpected(context(path) + "cannot create " + path.parent_path().string() + ": " + ec.message());
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr) !=
      SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Unexpected(context(path) + "cannot open: " + message);
  }
  Store store(path, db);
  sqlite3_busy_timeout(db, 30000);
  // WAL: readers never block the writer; synchronous=NORMAL is durable against a killed process (the case
  // spawn must survive); a power loss may lose the last commits but never corrupts the file.
  for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA foreign_keys=ON"}) {
    if (auto r = exec(db, pragma); !r) return Unexpected(context(path) + r.error());
  }
  WriteTransaction tx(db);
  if (!tx.error().empty()) return Unexpected(context(path) + tx.error());
  if (auto r = exec(db, k_schema); !r) return Unexpected(context(path) + "cannot create the schema: " + r.error());
  // Stores made before tasks had their own provider (hybrid jobs) gain the column; NULL means the job's provider.
  {
    Statement has(db, "SELECT 1 FROM pragma_table_info('tasks') WHERE name = 'provider'");
    if (has.step() != SQLITE_ROW) {
      if (auto r = exec(db, "ALTER TABLE tasks ADD COLUMN provider TEXT"); !r)
        return Unexpected(context(path) + "cannot add tasks.provider: " + r.error());
    }
  }
  if (auto r = tx.commit(); !r) return Unexpected(context(path) + r.error());
  return store;
}

Store::Store(Store&& other) noexcept : m_path(std::move(other.m_path)), m_db(other.m_db) { other.m_db = nullptr; }

Store& Store::operator=(Store&& other) noexcept {
  if (this != &other) {
    sqlite3_close(m_db);
    m_path = std::move(other.m_path);
    m_db = other.m_db;
    other.m_db = nullptr;
  }
  return *this;
}

Store::~Store() { sqlite3_close(m_db); }

Expected<std::uint64_t> Store::create_job(const NewJob& job, std::int64_t now) {
  if (job.indices.empty()) return Unexpected(context(m_path) + "job " + job.name + " has no tasks");
  WriteTransaction tx(m_db);
  if (!tx.error().empty()) return Unexpected(context(m_path) + tx.error());
  Statement next(m_db, "SELECT value FROM meta WHERE key = 'next_job_id'");
  if (next.step() != SQLITE_ROW) return Unexpected(context(m_path) + "no job id counter: " + next.error());
  std::uint64_t id = next.u64(0);
  auto count = static_cast<std::uint64_t>(job.indices.size());
  Statement bump(m_db, "UPDATE meta SET value = ? WHERE key = 'next_job_id'");
  bump.bind(1, id + count);
  if (bump.step() != SQLITE_DONE) return Unexpected(context(m_path) + bump.error());

  Statement insert(m_db,
                   "INSERT INTO jobs (id, name, user, submit_time, provider, plan, dependency, is_array, task_count, "
                   "kill_on_invalid_dep, requeue, nodes) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)");
  insert.bind(1, id).bind(2, job.name).bind(3, job.user).bind(4, now).bind(5, job.provider).bind(6, job.plan_document);
  insert.bind(7, job.dependency).bind(8, job.is_array).bind(9, count).bind(10, job.kill_on_invalid_dep);
  insert.bind(11, job.requeue).bind(12, static_cast<std::int64_t>(job.nodes));
  if (insert.step() != SQLITE_DONE) return Unexpected(context(m_path) + "cannot record the job: " + insert.error());

  if (!job.task_providers.empty() && job.task_providers.size() != job.indices.size())
    return Unexpected(context(m_path) + "job " + job.name + ": " + std::to_string(job.task_providers.size()) +
                      " task providers for " + std::to_string(job.indices.size()) + " tasks");
  Statement task(m_db, "INSERT INTO tasks (job_id, idx, state, task_job_id, submit_time, provider) "
                       "VALUES (?,?,'PENDING',?,?,?)");
  Statement log(m_db, "INSERT INTO transitions (job_id, idx, time, from_state, to_state, reason, restart_count) "
                      "VALUES (?,?,?,'PENDING','PENDING','submitted',0)");
  for (std::uint64_t k = 0; k < count; ++k) {
    task.reset();
    task.bind(1, id).bind(2, job.indices[k]).bind(3, id + k).bind(4, now);
    task.bind(5, job.task_providers.empty() ? std::optional<std::string>() : std::optional(job.task_providers[k]));
    if (task.step() != SQLITE_DONE) return Unexpected(context(m_path) + "cannot record the tasks: " + task.error());
  }
  // One log line for the whole submission keeps a 1,000,000-task array cheap to record.
  log.bind(1, id).bind(2, job.indices.front()).bind(3, now);
  if (log.step() != SQLITE_DONE) return Unexpected(context(m_path) + log.error());
  if (auto r = tx.commit(); !r) return Unexpected(context(m_path) + r.error());
  return id;
}

Expected<std::optional<JobRecord>> Store::job(std::uint64_t id) {
  Statement s(m_db, (std::string("SELECT ") + k_job_columns + " FROM jobs WHERE id = ?").c_str());
  s.bind(1, id);
  int rc = s.step();
  if (rc == SQLITE_ROW) return std::optional(read_job(s));
  if (rc == SQLITE_DONE) return std::optional<JobRecord>();
  return Unexpected(context(m_path) + s.error());
}

Expected<std::optional<TaskRef>> Store::find_task_job_id(std::uint64_t task_job_id) {
  Statement s(m_db, "SELECT job_id, idx FROM tasks WHERE task_job_id = ?");
  s.bind(1, task_job_id);
  int rc = s.step();
  if (rc == SQLITE_ROW) return std::optional(TaskRef{s.u64(0), s.u64(1)});
  if (rc == SQLITE_DONE) return std::optional<TaskRef>();
  return Unexpected(context(m_path) + s.error());
}

namespace {
template <typename T, typename F> Expected<std::vector<T>> collect(Statement& s, F read, const std::filesystem::path& path) {
  std::vector<T> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) out.push_back(read(s));
  if (rc != SQLITE_DONE) return Unexpected(context(path) + s.error());
  return out;
}
} // namespace

Expected<std::vector<JobRecord>> Store::jobs() {
  Statement s(m_db, (std::string("SELECT ") + k_job_columns + " FROM jobs ORDER BY id DESC").c_str());
  return collect<JobRecord>(s, read_job, m_path);
}

Expected<std::vector<JobRecord>> Store::jobs_named(const std::string& name, const std::string& user) {
  Statement s(m_db, (std::string("SELECT ") + k_job_columns + " FROM jobs WHERE name = ? AND user = ? ORDER BY id").c_str());
  s.bind(1, name).bind(2, user);
  return collect<JobRecord>(s, read_job, m_path);
}

Expected<std::vector<TaskRecord>> Store::tasks(std::uint64_t job_id) {
  Statement s(m_db, (std::string("SELECT ") + k_task_columns + " FROM tasks WHERE job_id = ? ORDER BY idx").c_str());
  s.bind(1, job_id);
  return collect<TaskRecord>(s, read_task, m_path);
}

Expected<std::vector<TaskRecord>> Store::live_tasks(std::uint64_t job_id) {
  Statement s(m_db, (std::string("SELECT ") + k_task_columns +
                     " FROM tasks WHERE job_id = ? AND state IN ('PENDING','LAUNCHING','RUNNING','PREEMPTED') ORDER BY idx")
                        .c_str());
  s.bind(1, job_id);
  return collect<TaskRecord>(s, read_task, m_path);
}

Expected<std::vector<std::string>> Store::task_providers(std::uint64_t job_id) {
  Statement s(m_db, "SELECT DISTINCT provider FROM tasks WHERE job_id = ? AND provider IS NOT NULL ORDER BY provider");
  s.bind(1, job_id);
  return collect<std::string>(s, [](const Statement& st) { return st.text(0); }, m_path);
}

Expected<std::vector<std::pair<TaskState, std::uint64_t>>> Store::state_counts(std::uint64_t job_id) {
  Statement s(m_db, "SELECT state, COUNT(*) FROM tasks WHERE job_id = ? GROUP BY state");
  s.bind(1, job_id);
  return collect<std::pair<TaskState, std::uint64_t>>(
      s, [](const Statement& st) { return std::pair(task_state_from_string(st.text(0)).value_or(TaskState::pending), st.u64(1)); },
      m_path);
}

Expected<std::vector<TransitionRecord>> Store::transitions(std::uint64_t job_id) {
  Statement s(m_db, "SELECT seq, job_id, idx, time, from_state, to_state, reason, restart_count FROM transitions "
                    "WHERE job_id = ? ORDER BY seq");
  s.bind(1, job_id);
  return collect<TransitionRecord>(
      s,
      [](const Statement& st) {
        TransitionRecord r;
        r.seq = st.u64(0);
        r.task = {st.u64(1), st.u64(2)};
        r.time = st.i64(3);
        r.from = task_state_from_string(st.text(4)).value_or(TaskState::pending);
        r.to = task_state_from_string(st.text(5)).value_or(TaskState::pending);
        r.reason = st.text(6);
        r.restart_count = static_cast<int>(st.i64(7));
        return r;
      },
      m_path);
}

Expected<std::vector<bool>> Store::apply(const std::vector<Transition>& changes, std::int64_t now) {
  std::vector<bool> applied;
  if (changes.empty()) return applied;
  WriteTransaction tx(m_db);
  if (!tx.error().empty()) return Unexpected(context(m_path) + tx.error());
  // The times of each transition: launch_time on LAUNCHING, start_time on RUNNING, end_time on a final state or
  // PREEMPTED; a requeue (back to PENDING) starts a fresh attempt.
  Statement update(m_db, R"sql(
    UPDATE tasks SET state = ?3, reason = ?4,
      exit_code = CASE WHEN ?3 = 'PENDING' THEN NULL ELSE coalesce(?5, exit_code) END,
      handle = CASE WHEN ?3 = 'PENDING' THEN NULL ELSE coalesce(?6, handle) END,
      restart_count = restart_count + ?9,
      attempt = attempt + (CASE WHEN ?3 = 'LAUNCHING' THEN 1 ELSE 0 END),
      launch_time = CASE WHEN ?3 = 'LAUNCHING' THEN ?8 WHEN ?3 = 'PENDING' THEN NULL ELSE launch_time END,
      start_time = CASE WHEN ?3 = 'RUNNING' THEN ?8 WHEN ?3 = 'PENDING' THEN NULL ELSE start_time END,
      end_time = CASE WHEN ?3 IN ('COMPLETED','FAILED','TIMEOUT','CANCELLED','PREEMPTED') THEN ?8
                      WHEN ?3 = 'PENDING' THEN NULL ELSE end_time END
    WHERE job_id = ?1 AND idx = ?2 AND state = ?7
    RETURNING restart_count)sql");
  Statement log(m_db, "INSERT INTO transitions (job_id, idx, time, from_state, to_state, reason, restart_count) "
                      "VALUES (?,?,?,?,?,?,?)");
  for (const auto& c : changes) {
    update.reset();
    update.bind(1, c.task.job_id).bind(2, c.task.index).bind(3, std::string(to_string(c.to))).bind(4, c.reason);
    update.bind(5, c.exit_code).bind(6, c.handle).bind(7, std::string(to_string(c.from))).bind(8, now);
    update.bind(9, c.requeue && c.to == TaskState::pending ? 1 : 0);
    int rc = update.step();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Unexpected(context(m_path) + update.error());
    if (rc == SQLITE_DONE) {
      applied.push_back(false);
      continue;
    }
    auto restarts = update.i64(0);
    while (update.step() == SQLITE_ROW) {
    }
    applied.push_back(true);
    log.reset();
    log.bind(1, c.task.job_id).bind(2, c.task.index).bind(3, now).bind(4, std::string(to_string(c.from)));
    log.bind(5, std::string(to_string(c.to))).bind(6, c.reason).bind(7, restarts);
    if (log.step() != SQLITE_DONE) return Unexpected(context(m_path) + log.error());
  }
  if (auto r = tx.commit(); !r) return Unexpected(context(m_path) + r.error());
  return applied;
}

Expected<void> Store::set_pending_reason(std::uint64_t job_id, const std::string& reason,
                                         const std::vector<std::uint64_t>* only) {
  WriteTransaction tx(m_db);
  if (!tx.error().empty()) return Unexpected(context(m_path) + tx.error());
  if (!only) {
    Statement s(m_db, "UPDATE tasks SET reason = ? WHERE job_id = ? AND state = 'PENDING' AND reason <> ?");
    s.bind(1, reason).bind(2, job_id).bind(3, reason);
    if (s.step() != SQLITE_DONE) return Unexpected(context(m_path) + s.error());
  } else {
    Statement s(m_db, "UPDATE tasks SET reason = ? WHERE job_id = ? AND idx = ? AND state = 'PENDING' AND reason <> ?");
    for (auto index : *only) {
      s.reset();
      s.bind(1, reason).bind(2, job_id).bind(3, index).bind(4, reason);
      if (s.step() != SQLITE_DONE) return Unexpected(context(m_path) + s.error());
    }
  }
  if (auto r = tx.commit(); !r) return Unexpected(context(m_path) + r.error());
  return {};
}

Expected<void> Store::request_cancel(std::uint64_t job_id, std::optional<std::uint64_t> index) {
  WriteTransaction tx(m_db);
  if (!tx.error().empty()) return Unexpected(context(m_path) + tx.error());
  if (!index) {
    Statement j(m_db, "UPDATE jobs SET cancel_requested = 1 WHERE id = ?");
    j.bind(1, job_id);
    if (j.step() != SQLITE_DONE) return Unexpected(context(m_path) + j.error());
  }
  Statement t(m_db, index ? "UPDATE tasks SET cancel_requested = 1 WHERE job_id = ? AND idx = ?"
                          : "UPDATE tasks SET cancel_requested = 1 WHERE job_id = ?");
  t.bind(1, job_id);
  if (index) t.bind(2, *index);
  if (t.step() != SQLITE_DONE) return Unexpected(context(m_path) + t.error());
  if (auto r = tx.commit(); !r) return Unexpected(context(m_path) + r.error());
  return {};
}

Expected<void> Store::set_supervisor(std::uint64_t job_id, std::int64_t pid) {
  Statement s(m_db, "UPDATE jobs SET supervisor_pid = ? WHERE id = ?");
  s.bind(1, pid).bind(2, job_id);
  if (s.step() != SQLITE_DONE) return Unexpected(context(m_path) + s.error());
  return {};
}

} // namespace spawn::engine
