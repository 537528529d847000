// daemon/queue/queue_store.cpp — queue::store on SQLite: one writer thread, group commit, marks.
#include "daemon/queue/queue_store.hpp"

#include "daemon/queue/body_spool.hpp"
#include "daemon/queue/wal_write_batching.hpp"

#include "core/atomic_file.hpp"
#include "core/log.hpp"
#include "core/queue_schema.hpp"

#include <sqlite3.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <algorithm>
#include <future>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <unistd.h>

namespace cartero::queue {

namespace {

std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}


// A prepared statement, reused for the life of the store (reset after every use).
class stmt {
public:
    stmt() = default;
    stmt(sqlite3* db, const char* sql) : db_(db) {
        if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st_, nullptr) != SQLITE_OK)
            throw std::runtime_error(std::string("preparing `") + sql + "`: " + sqlite3_errmsg(db));
    }
    stmt(const stmt&) = delete;
    stmt& operator=(const stmt&) = delete;
    stmt& operator=(stmt&& o) noexcept {
        std::swap(db_, o.db_);
        std::swap(st_, o.st_);
        return *this;
    }
    ~stmt() { sqlite3_finalize(st_); }

    void bind(int i, std::int64_t v) { sqlite3_bind_int64(st_, i, v); }
    // SQLITE_STATIC: the caller keeps the bytes alive until reset() (no copy of bodies).
    void bind(int i, std::string_view v) {
        sqlite3_bind_text(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    }
    void bind_blob(int i, std::string_view v) {
        sqlite3_bind_blob(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    }
    // SQLITE_ROW, SQLITE_DONE or an error code.
    int step() { return sqlite3_step(st_); }
    void reset() {
        sqlite3_reset(st_);
        sqlite3_clear_bindings(st_);
    }
    std::int64_t int64(int col) const { return sqlite3_column_int64(st_, col); }
    std::string text(int col) const {
        auto p = reinterpret_cast<const char*>(sqlite3_column_text(st_, col));
        return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(st_, col)))
                 : std::string();
    }
    std::string blob(int col) const {
        auto p = static_cast<const char*>(sqlite3_column_blob(st_, col));
        return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(st_, col)))
                 : std::string();
    }
    // Runs a statement that returns no rows; throws on error.
    void run(const char* what) {
        int rc = step();
        reset();
        if (rc != SQLITE_DONE && rc != SQLITE_ROW)
            throw std::runtime_error(std::string(what) + ": " + sqlite3_errstr(rc) + ": " +
                                     sqlite3_errmsg(db_));
    }

private:
    sqlite3* db_ = nullptr;
    sqlite3_stmt* st_ = nullptr;
};

struct db_handle {
    sqlite3* db = nullptr;
    ~db_handle() { sqlite3_close_v2(db); }
};

class sqlite_store final : public store {
public:
    sqlite_store(const store_settings& s) : settings_(s) {
        if (settings_.max_batch == 0) settings_.max_batch = 1;
        const auto path = settings_.queue_db;
        const auto dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
        auto fail = [&](const std::string& why) -> std::runtime_error {
            return std::runtime_error("queue.db " + path.string() + ": " + why);
        };

        std::error_code ec;
        if (!std::filesystem::exists(dir, ec)) {
            std::filesystem::create_directories(dir, ec);
            if (ec) throw fail("cannot create directory " + dir.string() + ": " + ec.message());
            auto parent = std::filesystem::absolute(dir, ec).parent_path();
            try {
                fsync_directory(parent.string());
            } catch (const std::exception& e) {
                throw fail(e.what());
            }
        }

        // The writer's WAL appends go out once per commit (wal_write_batching.hpp).
        int rc = sqlite3_open_v2(path.c_str(), &h_.db,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                     SQLITE_OPEN_NOMUTEX,
                                 wal_write_batching_vfs());
        if (rc != SQLITE_OK)
            throw fail(h_.db ? sqlite3_errmsg(h_.db) : sqlite3_errstr(rc));
        sqlite3_extended_result_codes(h_.db, 1);
        // carteroctl init may hold the write lock for a moment while it migrates.
        sqlite3_busy_timeout(h_.db, settings_.busy_timeout_ms);
        try {
            exec_checked("PRAGMA journal_mode=WAL", "wal");
            exec("PRAGMA synchronous=FULL");
            exec("PRAGMA foreign_keys=ON");
            // Statement journals (a multi-row DELETE/UPDATE inside the group commit's
            // transaction) and the TEMP spool trigger stay in memory. With the default, each
            // journal past 64 KiB spilled to a fresh temp file: open, unlink, a 4-octet and a
            // page-sized pwrite per page, close — 8 pwrites per 100 KB message (strace).
            exec("PRAGMA temp_store=MEMORY");
            queue_db::migrate(h_.db);
            // The migration wrote, so queue.db and queue.db-wal exist now: make their names
            // durable before the first 250 can depend on them.
            fsync_directory(dir.string());
            prepare();
            spool_ = std::make_unique<body_spool>(dir / "spool");
            watch_spool_deletions();
            sweep_spool();
        } catch (const std::exception& e) {
            throw fail(e.what());
        }
        writer_ = std::thread([this] { run(); });
    }

    ~sqlite_store() override { stop(); }

    // A large body goes to its spool file here, on the caller's thread (sessions run on
    // several), so the single writer only syncs the whole group's files at once.
    void enqueue(message m, done_fn done) override {
        bool spooled = false;
        if (m.body.size() >= settings_.spool_threshold) {
            try {
                spool_->write(m.id, m.body);
                spooled = m.spooled = true;
            } catch (const std::exception& e) {
                log::error("queue_spool_write_failed", {{"queue_id", m.id}, {"error", e.what()}});
                done(std::string(e.what()));
                return;
            }
        }
        {
            std::lock_guard lk(mu_);
            if (!stopping_) {
                in_.push_back({std::make_shared<message>(std::move(m)), std::move(done), spooled});
                ++enqueued_seq_;
                cv_.notify_one();
                return;
            }
        }
        if (spooled) spool_->remove(m.id);
        done(std::string("queue is stopped"));
    }

    void stop() override {
        {
            std::lock_guard lk(mu_);
            if (stopping_ && !writer_.joinable()) return;
            stopping_ = true;
            cv_.notify_one();
        }
        if (writer_.joinable()) writer_.join();
    }

    std::uint64_t commits() const override { return commits_.load(); }
    std::uint64_t messages_committed() const override { return committed_.load(); }

    void set_on_committed(committed_fn fn) override {
        std::lock_guard lk(hook_mu_);
        on_committed_ = std::move(fn);
    }

    void add_committed_listener(committed_fn fn) override {
        std::lock_guard lk(hook_mu_);
        committed_listeners_.push_back(std::move(fn));
    }

    std::vector<pending_message> load_pending_local() override {
        std::promise<std::vector<pending_message>> p;
        auto f = p.get_future();
        post([this, &p] {
            try {
                p.set_value(do_load_pending_local());
            } catch (...) {
                p.set_exception(std::current_exception());
            }
        }, [&p] { p.set_exception(std::make_exception_ptr(std::runtime_error("queue is stopped"))); });
        return f.get();
    }

    void mark_delivered(std::vector<std::int64_t> row_ids) override {
        std::lock_guard lk(mu_);
        for (auto id : row_ids) marks_.push_back({id, true, {}, 0});
        cv_.notify_one();
    }

    void mark_deferred(std::int64_t row_id, std::string reply,
                       std::int64_t next_attempt_at) override {
        std::lock_guard lk(mu_);
        marks_.push_back({row_id, false, std::move(reply), next_attempt_at});
        cv_.notify_one();
    }

    void flush() override {
        std::promise<void> p;
        auto f = p.get_future();
        post([&p] { p.set_value(); }, [&p] { p.set_value(); });
        f.get();
    }

    std::shared_ptr<const std::string> read_spooled(const std::string& queue_id) const override {
        auto body = spool_->read(queue_id);
        if (!body) return nullptr;
        return std::make_shared<const std::string>(std::move(*body));
    }

    bool run_on_writer(writer_task fn) override {
        bool refused = false;
        post([this, fn = std::move(fn)] {
            try {
                fn(h_.db);
            } catch (const std::exception& e) {
                log::error("queue_task_threw", {{"error", e.what()}});
            }
            // A task must leave no transaction open: the next batch starts its own.
            if (!sqlite3_get_autocommit(h_.db)) {
                rollback_.step();
                rollback_.reset();
            }
            // A task that deleted messages committed that with synchronous=FULL.
            collect_spool(spool_commit::full_if_deleted);
        }, [&refused] { refused = true; });
        return !refused;
    }

    bool run_in_transaction(writer_task fn) override {
        {
            std::lock_guard lk(mu_);
            if (!stopping_) {
                joined_.push_back(std::move(fn));
                cv_.notify_one();
                return true;
            }
        }
        return false;
    }

    std::uint64_t add_admin_listener(admin_listener fn) override {
        std::lock_guard lk(listeners_mu_);
        listeners_.emplace_back(++next_listener_, std::move(fn));
        return next_listener_;
    }

    void remove_admin_listener(std::uint64_t token) override {
        std::lock_guard lk(listeners_mu_); // waits for a publish in progress
        std::erase_if(listeners_, [token](const auto& l) { return l.first == token; });
    }

    void publish(const admin_event& e) override {
        std::lock_guard lk(listeners_mu_);
        for (const auto& [token, fn] : listeners_) {
            try {
                fn(e);
            } catch (const std::exception& ex) {
                log::error("queue_listener_threw", {{"queue_id", e.queue_id}, {"error", ex.what()}});
            }
        }
    }

private:
    struct pending {
        std::shared_ptr<message> msg;
        done_fn done;
        bool spooled = false; // the body is in spool/<id> (written by enqueue, not yet synced)
    };
    struct mark {
        std::int64_t row_id;
        bool delivered;
        std::string reply;
        std::int64_t next_attempt_at;
    };
    struct task {
        std::uint64_t after_seq; // run once this many enqueues were processed
        std::function<void()> fn;
    };

    void exec(const char* sql) {
        char* err = nullptr;
        if (sqlite3_exec(h_.db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
            std::string msg = err ? err : sqlite3_errmsg(h_.db);
            sqlite3_free(err);
            throw std::runtime_error(std::string(sql) + ": " + msg);
        }
    }
    // Runs a one-row pragma and checks its answer (journal_mode reports what it really set).
    void exec_checked(const char* sql, std::string_view expect) {
        stmt st(h_.db, sql);
        int rc = st.step();
        std::string got = rc == SQLITE_ROW ? st.text(0) : std::string(sqlite3_errmsg(h_.db));
        if (got != expect)
            throw std::runtime_error(std::string(sql) + " gave `" + got + "`");
    }

    void prepare() {
        begin_ = stmt(h_.db, "BEGIN IMMEDIATE");
        commit_ = stmt(h_.db, "COMMIT");
        rollback_ = stmt(h_.db, "ROLLBACK");
        savepoint_ = stmt(h_.db, "SAVEPOINT results");
        rollback_to_ = stmt(h_.db, "ROLLBACK TO results");
        release_ = stmt(h_.db, "RELEASE results");
        insert_message_ = stmt(h_.db,
            "INSERT INTO messages(id, received_at, mail_from, helo, client_ip, auth_user, size, "
            "body, message_id_header, envid, dsn_ret, spooled) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
        insert_rcpt_ = stmt(h_.db,
            "INSERT INTO recipients(message_id, rcpt_to, deliver_to, kind, maildir, quota_bytes, "
            "state, updated_at, notify, orcpt) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'queued', ?7, ?8, ?9)");
        mark_ = stmt(h_.db,
            "UPDATE recipients SET state = ?2, attempts = attempts + 1, last_reply = ?3, "
            "next_attempt_at = ?4, updated_at = ?5 WHERE id = ?1 RETURNING message_id, deliver_to");
        // sender and Message-ID come from the message row (two primary-key lookups), so the
        // log can be searched by them after the message is gone.
        insert_log_ = stmt(h_.db,
            "INSERT INTO delivery_log(at, message_id, recipient, result, reply, sender, "
            "message_id_header) VALUES (?1, ?2, ?3, ?4, ?5, "
            "coalesce((SELECT mail_from FROM messages WHERE id = ?2), ''), "
            "coalesce((SELECT message_id_header FROM messages WHERE id = ?2), ''))");
        delete_done_ = stmt(h_.db,
            "DELETE FROM messages WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM recipients "
            "WHERE message_id = ?1 AND state <> 'delivered')");
        message_exists_ = stmt(h_.db, "SELECT 1 FROM messages WHERE id = ?1");
    }

    // ---- spool files of large bodies (body_spool.hpp) -------------------------------------
    // Every DELETE of a spooled message, whoever runs it on this connection (marks, outbound
    // results, queue_admin), names its file through a TEMP trigger. The file is removed only
    // once the row is really gone (the DELETE may be rolled back with its transaction or
    // savepoint) and that deletion is durable (a synchronous=NORMAL commit is not yet): a file
    // must never be missing for a row a crash could bring back.
    static void on_spool_deleted(sqlite3_context* ctx, int, sqlite3_value** argv) {
        auto* self = static_cast<sqlite_store*>(sqlite3_user_data(ctx));
        auto p = reinterpret_cast<const char*>(sqlite3_value_text(argv[0]));
        if (p) self->spool_candidates_.emplace_back(p, static_cast<std::size_t>(sqlite3_value_bytes(argv[0])));
    }

    void watch_spool_deletions() {
        if (sqlite3_create_function_v2(h_.db, "cartero_spool_deleted", 1, SQLITE_UTF8, this,
                                       &sqlite_store::on_spool_deleted, nullptr, nullptr,
                                       nullptr) != SQLITE_OK)
            throw std::runtime_error(std::string("registering the spool hook: ") +
                                     sqlite3_errmsg(h_.db));
        exec("CREATE TEMP TRIGGER spool_deleted AFTER DELETE ON main.messages "
             "WHEN old.spooled = 1 BEGIN SELECT cartero_spool_deleted(old.id); END");
    }

    // At start (before the writer runs): files without a row are leftovers of a crash between
    // the file write and the COMMIT (the client got no 250), or of a deletion whose unlink had
    // not happened yet; a spooled row without its file cannot be delivered and is reported.
    void sweep_spool() {
        std::set<std::string> rows;
        {
            stmt q(h_.db, "SELECT id FROM messages WHERE spooled = 1");
            int rc;
            while ((rc = q.step()) == SQLITE_ROW) rows.insert(q.text(0));
            if (rc != SQLITE_DONE)
                throw std::runtime_error(std::string("listing spooled messages: ") +
                                         sqlite3_errmsg(h_.db));
        }
        std::set<std::string> files;
        std::size_t swept = 0;
        for (auto& name : spool_->list()) {
            if (rows.count(name)) {
                files.insert(std::move(name));
            } else if (spool_->remove(name)) {
                ++swept;
            }
        }
        if (swept) log::info("queue_spool_swept", {{"files", std::to_string(swept)}});
        for (const auto& id : rows)
            if (!files.count(id))
                log::error("queue_spool_file_missing",
                           {{"queue_id", id}, {"file", (spool_->dir() / id).string()}});
    }

    enum class spool_commit { not_durable, durable, full_if_deleted };
    // After a transaction ended: candidates whose row is gone wait for a durable commit; at one,
    // every waiting file is removed (a synchronous=FULL commit fsyncs the WAL, which makes the
    // earlier NORMAL commits durable too).
    void collect_spool(spool_commit how) {
        bool deleted_here = false;
        for (const auto& id : spool_candidates_) {
            message_exists_.bind(1, id);
            int rc = message_exists_.step();
            message_exists_.reset();
            if (rc == SQLITE_DONE) {
                spool_unlink_.push_back(id);
                deleted_here = true;
            }
            // SQLITE_ROW: the DELETE was undone; an error: leave the file to the next sweep.
        }
        spool_candidates_.clear();
        const bool durable = how == spool_commit::durable ||
                             (how == spool_commit::full_if_deleted && deleted_here);
        if (!durable) return;
        for (const auto& id : spool_unlink_)
            if (!spool_->remove(id))
                log::error("queue_spool_unlink_failed", {{"queue_id", id},
                                                         {"error", std::strerror(errno)}});
        spool_unlink_.clear();
    }

    // Hands fn to the writer thread; it runs after every enqueue made before this call has been
    // committed (or failed). `refused` runs instead, on this thread, once the store is stopped.
    void post(std::function<void()> fn, const std::function<void()>& refused) {
        {
            std::lock_guard lk(mu_);
            if (!stopping_) {
                tasks_.push_back({enqueued_seq_, std::move(fn)});
                cv_.notify_one();
                return;
            }
        }
        refused();
    }

    void run() {
        std::vector<pending> batch;
        std::vector<mark> marks;
        std::vector<task> tasks;
        std::vector<writer_task> joined;
        for (;;) {
            {
                std::unique_lock lk(mu_);
                cv_.wait(lk, [&] {
                    return stopping_ || !in_.empty() || !marks_.empty() || !joined_.empty() ||
                           ready_task();
                });
                if (stopping_ && in_.empty() && marks_.empty() && joined_.empty() && tasks_.empty())
                    return;
                // Only results: let the next enqueue carry them (store_settings::results_delay).
                // Under load one arrives within a millisecond; a quiet server writes them a few
                // milliseconds later than it would have, which no one waits for.
                if (in_.empty() && !ready_task() && !stopping_ && settings_.results_delay.count() > 0)
                    cv_.wait_for(lk, settings_.results_delay, [&] {
                        return stopping_ || !in_.empty() || ready_task() ||
                               marks_.size() + joined_.size() >= settings_.results_alone_max;
                    });
                const std::size_t n = std::min(in_.size(), settings_.max_batch);
                for (std::size_t i = 0; i < n; ++i) {
                    batch.push_back(std::move(in_.front()));
                    in_.pop_front();
                }
                taken_seq_ += n;
                marks.swap(marks_);
                joined.swap(joined_);
                // Tasks wait for the enqueues posted before them (flush() semantics).
                auto it = tasks_.begin();
                while (it != tasks_.end() && it->after_seq <= taken_seq_) ++it;
                tasks.assign(std::make_move_iterator(tasks_.begin()), std::make_move_iterator(it));
                tasks_.erase(tasks_.begin(), it);
            }
            // Results (marks, joined work) ride in the batch's transaction when there is one:
            // one COMMIT instead of two, and the pages both touch are written to the WAL once.
            if (!batch.empty()) write_batch(batch, marks, joined);
            else if (!marks.empty() || !joined.empty()) write_results(marks, joined);
            for (auto& t : tasks) t.fn();
            batch.clear();
            marks.clear();
            joined.clear();
            tasks.clear();
        }
    }

    bool ready_task() const { return !tasks_.empty() && tasks_.front().after_seq <= taken_seq_; }

    // Inserts one message and its recipients; returns the sqlite result code of the first
    // failing step (SQLITE_DONE when all went in).
    int insert_one(message& m, bool spooled, std::int64_t now, std::vector<std::int64_t>& row_ids) {
        if (m.message_id_header.empty()) m.message_id_header = extract_message_id(m.body);
        insert_message_.bind(1, m.id);
        insert_message_.bind(2, m.received_at);
        insert_message_.bind(3, m.mail_from);
        insert_message_.bind(4, m.helo);
        insert_message_.bind(5, m.client_ip);
        insert_message_.bind(6, m.auth_user);
        insert_message_.bind(7, static_cast<std::int64_t>(m.body.size()));
        insert_message_.bind_blob(8, spooled ? std::string_view("", 0) : std::string_view(m.body));
        insert_message_.bind(9, m.message_id_header);
        insert_message_.bind(10, m.envid);
        insert_message_.bind(11, m.dsn_ret);
        insert_message_.bind(12, static_cast<std::int64_t>(spooled ? 1 : 0));
        int rc = insert_message_.step();
        insert_message_.reset();
        if (rc != SQLITE_DONE) return rc;
        for (const auto& r : m.rcpts) {
            insert_rcpt_.bind(1, m.id);
            insert_rcpt_.bind(2, r.rcpt_to);
            insert_rcpt_.bind(3, r.deliver_to);
            insert_rcpt_.bind(4, r.kind == rcpt_kind::local ? std::string_view("local")
                                                             : std::string_view("remote"));
            insert_rcpt_.bind(5, r.maildir);
            insert_rcpt_.bind(6, static_cast<std::int64_t>(r.quota_bytes));
            insert_rcpt_.bind(7, now);
            insert_rcpt_.bind(8, r.notify);
            insert_rcpt_.bind(9, r.orcpt);
            rc = insert_rcpt_.step();
            insert_rcpt_.reset();
            if (rc != SQLITE_DONE) return rc;
            row_ids.push_back(sqlite3_last_insert_rowid(h_.db));
        }
        return SQLITE_DONE;
    }

    // One transaction, one COMMIT (= one WAL fsync under synchronous=FULL) for the whole batch.
    // A constraint error (duplicate id, empty field rejected by a CHECK) fails only its message:
    // the transaction is rolled back and redone without it (rare path, no per-message savepoint
    // cost on the common one). Any other error fails the whole batch; nothing of it is visible.
    void write_batch(std::vector<pending>& batch, const std::vector<mark>& marks,
                     std::vector<writer_task>& joined) {
        const std::int64_t now = unix_now();
        std::vector<std::optional<std::string>> errors(batch.size());
        std::vector<std::vector<std::int64_t>> row_ids(batch.size());
        std::optional<std::string> batch_error;
        bool results_applied = false;

        // Spooled bodies must be on disk before the COMMIT that makes their rows visible: one
        // syncfs for the whole group. If it fails, only those messages fail (451).
        if (std::any_of(batch.begin(), batch.end(), [](const pending& p) { return p.spooled; })) {
            try {
                spool_->sync();
            } catch (const std::exception& e) {
                for (std::size_t i = 0; i < batch.size(); ++i)
                    if (batch[i].spooled) errors[i] = e.what();
            }
        }

        for (bool retry = true; retry;) {
            retry = false;
            int rc = begin_.step();
            begin_.reset();
            if (rc != SQLITE_DONE) {
                batch_error = std::string("queue.db BEGIN: ") + sqlite3_errmsg(h_.db);
                break;
            }
            for (std::size_t i = 0; i < batch.size() && !retry && !batch_error; ++i) {
                if (errors[i]) continue;
                row_ids[i].clear();
                rc = insert_one(*batch[i].msg, batch[i].spooled, now, row_ids[i]);
                if (rc == SQLITE_DONE) continue;
                std::string why = std::string("queue.db insert: ") + sqlite3_errmsg(h_.db);
                if ((rc & 0xff) == SQLITE_CONSTRAINT) {
                    errors[i] = why;
                    retry = true;
                } else {
                    batch_error = why;
                }
            }
            if (retry || batch_error) {
                rollback_.step();
                rollback_.reset();
                continue;
            }
            // Only on the pass that commits: the joined work runs exactly once.
            apply_results(marks, joined);
            results_applied = true;
            rc = commit_.step();
            commit_.reset();
            if (rc != SQLITE_DONE) {
                batch_error = std::string("queue.db COMMIT: ") + sqlite3_errmsg(h_.db);
                // A failed COMMIT may leave the transaction open; ROLLBACK so the next batch
                // starts clean. None of this batch is visible.
                if (!sqlite3_get_autocommit(h_.db)) {
                    rollback_.step();
                    rollback_.reset();
                }
            }
        }

        // The batch failed before its COMMIT pass: the results still get their own transaction.
        if (!results_applied && (!marks.empty() || !joined.empty())) write_results(marks, joined);
        // Files of messages that did not go in; then deletions this durable COMMIT covers.
        for (std::size_t i = 0; i < batch.size(); ++i)
            if (batch[i].spooled && (batch_error || errors[i])) spool_->remove(batch[i].msg->id);
        collect_spool(batch_error ? spool_commit::not_durable : spool_commit::durable);

        std::size_t ok = 0;
        if (!batch_error) {
            for (auto& e : errors) ok += e ? 0 : 1;
            ++commits_;
            committed_ += ok;
        } else {
            log::error("queue_commit_failed", {{"messages", std::to_string(batch.size())},
                                               {"error", *batch_error}});
        }
        for (std::size_t i = 0; i < batch.size(); ++i) {
            std::optional<std::string> err = batch_error ? batch_error : errors[i];
            if (err && !batch_error)
                log::error("queue_insert_failed", {{"queue_id", batch[i].msg->id}, {"error", *err}});
            try {
                batch[i].done(std::move(err));
            } catch (const std::exception& e) {
                log::error("queue_done_threw", {{"queue_id", batch[i].msg->id}, {"error", e.what()}});
            }
        }
        if (batch_error || ok == 0) return;
        committed_fn hook;
        std::vector<committed_fn> listeners;
        {
            std::lock_guard lk(hook_mu_);
            hook = on_committed_;
            listeners = committed_listeners_;
        }
        if (!hook && listeners.empty()) return;
        for (std::size_t i = 0; i < batch.size(); ++i) {
            if (errors[i]) continue;
            try {
                auto msg = std::const_pointer_cast<const message>(batch[i].msg);
                for (auto& l : listeners) l(msg, row_ids[i]);
                if (hook) hook(msg, std::move(row_ids[i]));
            } catch (const std::exception& e) {
                log::error("queue_hook_threw", {{"queue_id", batch[i].msg->id}, {"error", e.what()}});
            }
        }
    }

    // Delivery results alone (no enqueue to ride with): synchronous=NORMAL (see the header for
    // why that is enough). A failure leaves the rows as they were: the next start redelivers and
    // the Maildir writer skips.
    void write_results(const std::vector<mark>& marks, std::vector<writer_task>& joined) {
        try {
            // Not a prepared statement: PRAGMA synchronous takes effect when it is compiled, so
            // a reused statement would change nothing (measured: that made every commit
            // skip its fsync).
            exec("PRAGMA synchronous=NORMAL");
            begin_.run("BEGIN");
            apply_results(marks, joined);
            commit_.run("COMMIT");
        } catch (const std::exception& e) {
            if (!sqlite3_get_autocommit(h_.db)) {
                rollback_.step();
                rollback_.reset();
            }
            log::error("queue_mark_failed", {{"marks", std::to_string(marks.size())},
                                             {"tasks", std::to_string(joined.size())},
                                             {"error", e.what()}});
        }
        try {
            exec("PRAGMA synchronous=FULL");
        } catch (const std::exception& e) {
            log::error("queue_pragma_failed", {{"error", e.what()}});
        }
        collect_spool(spool_commit::not_durable);
        // Spooled messages were deleted: sync the WAL now (what a synchronous=FULL COMMIT
        // does; SQLite refuses to change the level inside a transaction), so their files go
        // now rather than at the next message, which on a quiet server may be hours away.
        // One fsync, only when a large body was freed.
        if (!spool_unlink_.empty() && sync_wal()) collect_spool(spool_commit::durable);
    }

    bool sync_wal() {
        sqlite3_file* f = nullptr;
        if (sqlite3_file_control(h_.db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &f) != SQLITE_OK ||
            !f || !f->pMethods)
            return false;
        return f->pMethods->xSync(f, SQLITE_SYNC_NORMAL) == SQLITE_OK;
    }

    // Inside an open transaction: the marks, then each joined task, each in a savepoint so that
    // one failing part is undone alone and the rest (and the new messages) still commit.
    void apply_results(const std::vector<mark>& marks, std::vector<writer_task>& joined) {
        if (!marks.empty()) {
            savepoint_.run("SAVEPOINT");
            try {
                apply_marks(marks);
                release_.run("RELEASE");
            } catch (const std::exception& e) {
                rollback_to_.run("ROLLBACK TO");
                release_.run("RELEASE");
                log::error("queue_mark_failed", {{"marks", std::to_string(marks.size())},
                                                 {"error", e.what()}});
            }
        }
        for (auto& fn : joined) {
            savepoint_.run("SAVEPOINT");
            try {
                fn(h_.db);
                release_.run("RELEASE");
            } catch (const std::exception& e) {
                rollback_to_.run("ROLLBACK TO");
                release_.run("RELEASE");
                log::error("queue_task_threw", {{"error", e.what()}});
            }
        }
        joined.clear(); // ran once; a retried COMMIT pass must not run them again
    }

    void apply_marks(const std::vector<mark>& marks) {
        const std::int64_t now = unix_now();
        std::set<std::string> touched;
        for (const auto& m : marks) {
            const std::string reply = m.delivered ? std::string("250 2.0.0 Delivered") : m.reply;
            mark_.bind(1, m.row_id);
            mark_.bind(2, m.delivered ? std::string_view("delivered")
                                      : std::string_view("deferred"));
            mark_.bind(3, reply);
            mark_.bind(4, m.delivered ? 0 : m.next_attempt_at);
            mark_.bind(5, now);
            int rc = mark_.step();
            if (rc == SQLITE_ROW) {
                std::string message_id = mark_.text(0);
                std::string to = mark_.text(1);
                mark_.reset();
                insert_log_.bind(1, now);
                insert_log_.bind(2, message_id);
                insert_log_.bind(3, to);
                insert_log_.bind(4, m.delivered ? std::string_view("delivered")
                                                : std::string_view("deferred"));
                insert_log_.bind(5, reply);
                insert_log_.run("delivery_log insert");
                if (m.delivered) touched.insert(std::move(message_id));
            } else {
                mark_.reset();
                if (rc != SQLITE_DONE) // DONE: row already gone (message deleted)
                    throw std::runtime_error(std::string("recipient update: ") +
                                             sqlite3_errmsg(h_.db));
            }
        }
        for (const auto& id : touched) {
            delete_done_.bind(1, id);
            delete_done_.run("delete delivered message");
        }
    }

    std::vector<pending_message> do_load_pending_local() {
        return detail::query_pending_local(h_.db, {});
    }

    store_settings settings_;
    db_handle h_; // declared before the statements: they are finalized first
    stmt begin_, commit_, rollback_, savepoint_, rollback_to_, release_;
    stmt insert_message_, insert_rcpt_, mark_, insert_log_, delete_done_, message_exists_;
    std::unique_ptr<body_spool> spool_;
    std::vector<std::string> spool_candidates_; // writer thread: spooled rows DELETEd, maybe undone
    std::vector<std::string> spool_unlink_;     // rows gone; files removed at the next durable commit

    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<pending> in_;
    std::vector<mark> marks_;
    std::vector<writer_task> joined_; // run_in_transaction work for the next transaction
    std::deque<task> tasks_;
    std::uint64_t enqueued_seq_ = 0; // enqueues accepted so far
    std::uint64_t taken_seq_ = 0;    // enqueues the writer has taken (and then written)
    bool stopping_ = false;

    std::mutex hook_mu_;
    committed_fn on_committed_;
    std::vector<committed_fn> committed_listeners_; // further subscribers (the outbound scheduler)

    std::mutex listeners_mu_;
    std::vector<std::pair<std::uint64_t, admin_listener>> listeners_;
    std::uint64_t next_listener_ = 0;

    std::atomic<std::uint64_t> commits_{0};
    std::atomic<std::uint64_t> committed_{0};
    std::thread writer_;
};

} // namespace

std::string extract_message_id(std::string_view body) {
    constexpr std::size_t max_scan = 256 * 1024; // a header section is never longer in practice
    constexpr std::size_t max_value = 998;       // RFC 5322 §2.1.1 line limit
    const std::string_view head = body.substr(0, std::min(body.size(), max_scan));
    auto is_name = [](std::string_view line) {
        constexpr std::string_view name = "message-id:";
        if (line.size() < name.size()) return false;
        for (std::size_t i = 0; i < name.size(); ++i) {
            char c = line[i];
            if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
            if (c != name[i]) return false;
        }
        return true;
    };
    std::string value;
    bool in_value = false;
    std::size_t pos = 0;
    while (pos < head.size()) {
        std::size_t end = head.find('\n', pos);
        if (end == std::string_view::npos) end = head.size();
        std::string_view line = head.substr(pos, end - pos);
        pos = end + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty()) break; // end of the header section
        const bool folded = line.front() == ' ' || line.front() == '\t';
        if (in_value) {
            if (!folded) break;
            value += line; // unfolding removes only the CRLF (RFC 5322 §2.2.3)
            continue;
        }
        if (!folded && is_name(line)) {
            value.assign(line.substr(11));
            in_value = true;
        }
    }
    const auto first = value.find_first_not_of(" \t");
    if (first == std::string::npos) return {};
    const auto last = value.find_last_not_of(" \t");
    value = value.substr(first, last - first + 1);
    if (value.size() > max_value) value.resize(max_value);
    return value;
}

namespace detail {

std::vector<pending_message> query_pending_local(sqlite3* db, const std::string& queue_id) {
    stmt q(db,
           "SELECT r.id, r.rcpt_to, r.deliver_to, r.maildir, r.quota_bytes, m.id, "
           "m.received_at, m.mail_from, m.helo, m.client_ip, m.auth_user, m.body, "
           "m.message_id_header, m.spooled "
           "FROM recipients r JOIN messages m ON m.id = r.message_id "
           "WHERE r.kind = 'local' AND m.held = 0 AND (?1 = '' OR m.id = ?1) AND "
           "(r.state = 'queued' OR (r.state = 'deferred' AND r.next_attempt_at > 0)) "
           "ORDER BY m.id, r.id");
    q.bind(1, std::string_view(queue_id));
    std::vector<pending_message> out;
    std::shared_ptr<message> cur;
    std::vector<std::int64_t> ids;
    bool unreadable = false;
    auto flush_cur = [&] {
        if (cur && !unreadable) out.push_back({std::move(cur), std::move(ids)});
        cur.reset();
        ids.clear();
        unreadable = false;
    };
    for (;;) {
        int rc = q.step();
        if (rc == SQLITE_DONE) break;
        if (rc != SQLITE_ROW)
            throw std::runtime_error("queue.db: loading pending local recipients: " +
                                     std::string(sqlite3_errmsg(db)));
        std::string mid = q.text(5);
        if (!cur || cur->id != mid) {
            flush_cur();
            cur = std::make_shared<message>();
            cur->id = std::move(mid);
            cur->received_at = q.int64(6);
            cur->mail_from = q.text(7);
            cur->helo = q.text(8);
            cur->client_ip = q.text(9);
            cur->auth_user = q.text(10);
            if (q.int64(13) == 0) {
                cur->body = q.blob(11);
            } else {
                try {
                    cur->body = read_spooled_body(db, cur->id);
                } catch (const std::exception& e) {
                    // Never deliver it empty; the others still go. It stays queued (and
                    // reported at every start) until an administrator deletes or bounces it.
                    log::error("queue_spool_unreadable", {{"queue_id", cur->id}, {"error", e.what()}});
                    unreadable = true;
                }
            }
            cur->message_id_header = q.text(12);
        }
        recipient r;
        r.rcpt_to = q.text(1);
        r.deliver_to = q.text(2);
        r.kind = rcpt_kind::local;
        r.maildir = q.text(3);
        r.quota_bytes = static_cast<std::uint64_t>(q.int64(4));
        cur->rcpts.push_back(std::move(r));
        ids.push_back(q.int64(0));
    }
    flush_cur();
    return out;
}

} // namespace detail

std::unique_ptr<store> store::open(const store_settings& s) {
    return std::make_unique<sqlite_store>(s);
}

} // namespace cartero::queue
