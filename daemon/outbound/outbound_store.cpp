// daemon/outbound/outbound_store.cpp — SQL for the scheduler, run on the queue's writer thread.
#include "daemon/outbound/outbound_store.hpp"

#include "core/log.hpp"
#include "daemon/bounce/classifier.hpp"
#include "daemon/queue/body_spool.hpp"

#include <sqlite3.h>

#include <atomic>
#include <ctime>
#include <future>
#include <map>
#include <utility>

namespace cartero::outbound {

namespace {

struct stmt {
    sqlite3_stmt* s = nullptr;
    bool owned = true; // false: borrowed from the writer's cache (reset, never finalized here)
    stmt(sqlite3* db, const char* sql) {
        if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) != SQLITE_OK)
            throw std::runtime_error(std::string("queue.db: ") + sqlite3_errmsg(db));
    }
    explicit stmt(sqlite3_stmt* cached) : s(cached), owned(false) {}
    stmt(const stmt&) = delete;
    stmt& operator=(const stmt&) = delete;
    ~stmt() {
        if (owned) {
            sqlite3_finalize(s);
        } else { // an exception may have left it mid-step: ready for the next batch
            sqlite3_reset(s);
            sqlite3_clear_bindings(s);
        }
    }
    stmt& text(int i, const std::string& v) {
        sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
        return *this;
    }
    stmt& integer(int i, std::int64_t v) {
        sqlite3_bind_int64(s, i, v);
        return *this;
    }
    bool step() {
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) return true;
        if (rc != SQLITE_DONE) throw std::runtime_error(std::string("queue.db: ") + sqlite3_errmsg(sqlite3_db_handle(s)));
        return false;
    }
    void run() {
        step();
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
    std::string col_text(int i) const {
        auto p = sqlite3_column_text(s, i);
        return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(s, i)) : std::string();
    }
    std::int64_t col_int(int i) const { return sqlite3_column_int64(s, i); }
};

void exec(sqlite3* db, const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
        std::string m = err ? err : "error";
        sqlite3_free(err);
        throw std::runtime_error("queue.db: " + m);
    }
}

std::int64_t unix_now() { return static_cast<std::int64_t>(std::time(nullptr)); }

// write_records runs once per batch of outcomes (several per second under load): preparing its
// statements each time cost more than running them (callgrind: ~100k instructions per
// message). They are prepared once per writer thread — the only thread that runs them — and
// finalized when that thread ends, which the store does before it closes queue.db.
class writer_statements {
public:
    writer_statements() = default;
    writer_statements(const writer_statements&) = delete;
    writer_statements& operator=(const writer_statements&) = delete;
    ~writer_statements() { clear(); }
    // `sql` must be a string literal: its address is the key.
    sqlite3_stmt* get(sqlite3* db, const char* sql) {
        if (db != db_) { // another connection (a new store on a reused thread): start afresh
            clear();
            db_ = db;
        }
        for (const auto& [key, st] : list_)
            if (key == sql) return st;
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, nullptr) != SQLITE_OK) {
            sqlite3_finalize(st);
            throw std::runtime_error(std::string("queue.db: ") + sqlite3_errmsg(db));
        }
        list_.emplace_back(sql, st);
        return st;
    }

private:
    void clear() {
        for (auto& [key, st] : list_) sqlite3_finalize(st);
        list_.clear();
        db_ = nullptr;
    }
    sqlite3* db_ = nullptr;
    std::vector<std::pair<const char*, sqlite3_stmt*>> list_;
};

stmt cached(sqlite3* db, const char* sql) {
    thread_local writer_statements statements;
    return stmt(statements.get(db, sql));
}

constexpr const char* record_update_sql =
    "UPDATE recipients SET state = ?2, attempts = ?3, next_attempt_at = ?4, "
    "last_reply = ?5, bounce_class = ?6, updated_at = ?8, "
    "dsn_sent = CASE WHEN ?7 = 1 AND (SELECT mail_from FROM messages WHERE id = "
    "recipients.message_id) = '' THEN 1 ELSE dsn_sent END, "
    "first_attempt_at = CASE first_attempt_at WHEN 0 THEN ?8 ELSE first_attempt_at END "
    "WHERE id = ?1";
constexpr const char* record_log_sql =
    "INSERT INTO delivery_log (at, message_id, recipient, result, reply, sender, "
    "message_id_header, dest_host, dest_ip, source_ip, tls, bounce_class) "
    "SELECT ?1, ?2, ?3, ?4, ?5, m.mail_from, m.message_id_header, ?6, ?7, ?8, ?9, ?10 "
    "FROM messages m WHERE m.id = ?2";
constexpr const char* record_bounce_sql =
    "INSERT INTO bounces (at, message_id, recipient, bounce_class, hard, reply, source) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'sync')";
constexpr const char* record_suppress_sql =
    "INSERT OR IGNORE INTO suppression (address, reason, bounce_class, source_message, "
    "created_at) VALUES (lower(?1), ?2, 'invalid-recipient', ?3, ?4)";

// Settled = delivered, or failed with its DSN queued (or needing none).
constexpr const char* drop_finished_sql =
    "DELETE FROM messages WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM recipients "
    "WHERE message_id = ?1 AND NOT (state = 'delivered' OR (state = 'failed' AND dsn_sent = 1)))";

// A message whose only outcome in a batch is its one remaining recipient delivered goes at
// once (cascading to its recipient rows), without first updating that recipient's row and its
// index entries only to delete them in the same transaction: ?2 is that recipient's row.
constexpr const char* drop_delivered_sql =
    "DELETE FROM messages WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM recipients "
    "WHERE message_id = ?1 AND id != ?2 AND NOT (state = 'delivered' OR (state = 'failed' AND dsn_sent = 1)))";

void drop_finished(sqlite3* db, const std::string& id) {
    stmt del(db, drop_finished_sql);
    del.text(1, id).run();
}

template <class T, class F>
T on_writer(queue::store& store, F&& fn) {
    std::promise<T> p;
    auto f = p.get_future();
    bool queued = store.run_on_writer([&](sqlite3* db) {
        try {
            p.set_value(fn(db));
        } catch (...) {
            p.set_exception(std::current_exception());
        }
    });
    if (!queued) throw std::runtime_error("queue is stopped");
    return f.get();
}

// The body of the row q is on: the blob in column `blob_col`, or the spool file when the
// `spooled_col` column says so (throws when that file is unreadable).
std::shared_ptr<const std::string> body_of(sqlite3* db, const std::string& queue_id, stmt& q,
                                           int blob_col, int spooled_col) {
    if (q.col_int(spooled_col) != 0)
        return std::make_shared<const std::string>(queue::read_spooled_body(db, queue_id));
    auto p = static_cast<const char*>(sqlite3_column_blob(q.s, blob_col));
    return std::make_shared<const std::string>(
        p ? p : "", static_cast<std::size_t>(sqlite3_column_bytes(q.s, blob_col)));
}

} // namespace

std::vector<std::shared_ptr<outbound_message>> outbound_store::load_pending(const std::string& queue_id) {
    return on_writer<std::vector<std::shared_ptr<outbound_message>>>(store_, [&queue_id](sqlite3* db) {
        stmt q(db, "SELECT m.id, m.mail_from, m.received_at, m.size, m.auth_user, m.envid, m.dsn_ret, "
                   "r.id, r.deliver_to, r.rcpt_to, r.attempts, r.next_attempt_at, r.notify, r.orcpt, "
                   "r.delay_dsn_sent FROM recipients r JOIN messages m ON m.id = r.message_id "
                   "WHERE r.kind = 'remote' AND m.held = 0 AND (?1 = '' OR m.id = ?1) AND "
                   "(r.state = 'queued' OR (r.state = 'deferred' AND r.next_attempt_at > 0)) "
                   "ORDER BY m.id, r.id");
        q.text(1, queue_id);
        std::vector<std::shared_ptr<outbound_message>> out;
        while (q.step()) {
            const std::string id = q.col_text(0);
            if (out.empty() || out.back()->id != id) {
                auto m = std::make_shared<outbound_message>();
                m->id = id;
                m->mail_from = q.col_text(1);
                m->received_at = q.col_int(2);
                m->size = static_cast<std::uint64_t>(q.col_int(3));
                m->auth_user = q.col_text(4);
                m->envid = q.col_text(5);
                m->ret = q.col_text(6);
                out.push_back(std::move(m));
            }
            outbound_recipient r;
            r.row_id = q.col_int(7);
            r.address = q.col_text(8);
            r.rcpt_to = q.col_text(9);
            r.attempts = static_cast<std::uint32_t>(q.col_int(10));
            r.next_attempt_at = q.col_int(11);
            r.notify = q.col_text(12);
            r.orcpt = q.col_text(13);
            r.delay_dsn_sent = q.col_int(14) != 0;
            out.back()->rcpts.push_back(std::move(r));
        }
        return out;
    });
}

std::shared_ptr<outbound_message>
outbound_store::load_unreported_failures(const std::string& queue_id, std::vector<std::string>& replies) {
    using result = std::pair<std::shared_ptr<outbound_message>, std::vector<std::string>>;
    auto r = on_writer<result>(store_, [&queue_id](sqlite3* db) {
        stmt q(db, "SELECT m.mail_from, m.received_at, m.size, m.envid, m.dsn_ret, m.body, "
                   "r.id, r.deliver_to, r.rcpt_to, r.last_reply, r.notify, r.orcpt, m.spooled "
                   "FROM messages m JOIN recipients r ON r.message_id = m.id "
                   "WHERE m.id = ?1 AND r.state = 'failed' AND r.dsn_sent = 0 ORDER BY r.id");
        q.text(1, queue_id);
        result out;
        while (q.step()) {
            if (!out.first) {
                out.first = std::make_shared<outbound_message>();
                auto& m = *out.first;
                m.id = queue_id;
                m.mail_from = q.col_text(0);
                m.received_at = q.col_int(1);
                m.size = static_cast<std::uint64_t>(q.col_int(2));
                m.envid = q.col_text(3);
                m.ret = q.col_text(4);
                try {
                    m.body = body_of(db, queue_id, q, 5, 12);
                } catch (const std::exception& e) { // the DSN goes out without the original
                    log::error("outbound_body_unreadable", {{"queue_id", queue_id}, {"error", e.what()}});
                }
            }
            outbound_recipient r;
            r.row_id = q.col_int(6);
            r.address = q.col_text(7);
            r.rcpt_to = q.col_text(8);
            r.notify = q.col_text(10);
            r.orcpt = q.col_text(11);
            out.first->rcpts.push_back(std::move(r));
            out.second.push_back(q.col_text(9));
        }
        return out;
    });
    replies = std::move(r.second);
    return r.first;
}

std::vector<std::string> outbound_store::unreported_failure_ids() {
    return on_writer<std::vector<std::string>>(store_, [](sqlite3* db) {
        stmt q(db, "SELECT DISTINCT r.message_id FROM recipients r "
                   "WHERE r.state = 'failed' AND r.dsn_sent = 0 ORDER BY r.message_id");
        std::vector<std::string> out;
        while (q.step()) out.push_back(q.col_text(0));
        return out;
    });
}

std::shared_ptr<const std::string> outbound_store::load_body(const std::string& queue_id) {
    // A spooled body straight from its file, on this thread: no wait behind a group commit.
    try {
        if (auto b = store_.read_spooled(queue_id)) return b;
    } catch (const std::exception& e) {
        log::error("outbound_body_unreadable", {{"queue_id", queue_id}, {"error", e.what()}});
        return nullptr;
    }
    return on_writer<std::shared_ptr<const std::string>>(store_, [&](sqlite3* db) {
        stmt q(db, "SELECT body, spooled FROM messages WHERE id = ?1");
        q.text(1, queue_id);
        if (!q.step()) return std::shared_ptr<const std::string>();
        try {
            return body_of(db, queue_id, q, 0, 1);
        } catch (const std::exception& e) {
            // nullptr: the scheduler does not send it (never an empty message instead).
            log::error("outbound_body_unreadable", {{"queue_id", queue_id}, {"error", e.what()}});
            return std::shared_ptr<const std::string>();
        }
    });
}

namespace {
std::atomic<std::size_t> spooled_in_memory{0}; // bytes of spooled bodies kept by from_committed
} // namespace

std::size_t outbound_store::spooled_bodies_in_memory() { return spooled_in_memory.load(); }

std::shared_ptr<outbound_message> outbound_store::from_committed(std::shared_ptr<const queue::message> mp,
                                                                 const std::vector<std::int64_t>& rows) {
    const auto& m = *mp;
    auto out = std::make_shared<outbound_message>();
    out->id = m.id;
    out->mail_from = m.mail_from;
    out->received_at = m.received_at;
    out->size = m.body.size();
    out->auth_user = m.auth_user;
    out->envid = m.envid;
    out->ret = m.dsn_ret;
    out->dot_free = m.dot_free;
    // A spooled body is kept only while spooled_bodies_in_memory() stays within
    // spooled_memory_budget: a backlog of large messages must not sit in memory until sent, so
    // beyond it take_ready reads the body back from its file (load_body) just before the
    // attempt. Within it — a queue that keeps up — the first attempt needs no open, read and
    // copy of the file (~6 system calls and a 100 KB copy per message at 100 KB).
    if (!m.spooled) {
        out->body = std::shared_ptr<const std::string>(mp, &mp->body); // aliasing: no copy
    } else if (const std::size_t n = m.body.size();
               n > 0 && spooled_in_memory.fetch_add(n) + n <= spooled_memory_budget) {
        out->body = std::shared_ptr<const std::string>(&mp->body, [mp, n](const std::string*) mutable {
            mp.reset();
            spooled_in_memory.fetch_sub(n);
        });
    } else if (n > 0) {
        spooled_in_memory.fetch_sub(n); // over the budget: not kept
    }
    for (std::size_t i = 0; i < m.rcpts.size() && i < rows.size(); ++i) {
        if (m.rcpts[i].kind != queue::rcpt_kind::remote) continue;
        outbound_recipient r;
        r.row_id = rows[i];
        r.address = m.rcpts[i].deliver_to;
        r.rcpt_to = m.rcpts[i].rcpt_to;
        r.notify = m.rcpts[i].notify;
        r.orcpt = m.rcpts[i].orcpt;
        out->rcpts.push_back(std::move(r));
    }
    return out;
}

// Outcomes wait here until the writer thread takes them all in one transaction: under load
// many jobs' (and early) records share one COMMIT instead of one each.
struct outbound_store::pending_records {
    std::mutex mu;
    std::vector<recipient_outcome> list;
    bool scheduled = false; // a writer task that will take `list` is queued
};

outbound_store::outbound_store(queue::store& s)
    : store_(s), pending_(std::make_shared<pending_records>()) {}

void outbound_store::record(const std::vector<recipient_outcome>& outcomes) {
    bool post = false;
    {
        std::lock_guard lk(pending_->mu);
        pending_->list.insert(pending_->list.end(), outcomes.begin(), outcomes.end());
        post = !pending_->scheduled;
        pending_->scheduled = true;
    }
    if (!post) return;
    auto p = pending_;
    const bool queued = store_.run_in_transaction([p](sqlite3* db) {
        std::vector<recipient_outcome> copy;
        {
            std::lock_guard lk(p->mu);
            copy.swap(p->list);
            p->scheduled = false;
        }
        write_records(db, copy);
    });
    if (!queued) { // stopping: what is not written is delivered again after the restart
        std::lock_guard lk(pending_->mu);
        pending_->scheduled = false;
    }
}

// Committed by the queue's writer with the next group commit (synchronous=FULL), or alone with
// synchronous=NORMAL like the local delivery marks (queue_store.hpp): the WAL write reaches the
// kernel before COMMIT returns, so a kill -9 loses nothing; a power cut may lose the last
// results, which only repeats those deliveries (the SMTP duplicate window), never loses mail.
void outbound_store::write_records(sqlite3* db, const std::vector<recipient_outcome>& copy) {
    if (copy.empty()) return;
    {
        try {
            auto upd = cached(db, record_update_sql);
            auto log = cached(db, record_log_sql);
            auto bnc = cached(db, record_bounce_sql);
            auto sup = cached(db, record_suppress_sql);
            auto drop_delivered = cached(db, drop_delivered_sql);
            const auto now = unix_now();
            std::map<std::string, bool> touched; // message id → still to check for dropping
            std::map<std::string, int> outcomes_per_message;
            for (const auto& o : copy) ++outcomes_per_message[o.attempt.message_id];
            for (const auto& o : copy) {
                const auto& a = o.attempt;
                const std::string reply_text = a.answer.summary();
                std::string state = "delivered", result = "delivered", cls;
                if (o.kind == outcome_kind::deferred) {
                    state = result = "deferred";
                } else if (o.kind == outcome_kind::failed) {
                    state = "failed";
                    result = "bounced";
                }
                if (o.kind != outcome_kind::delivered) {
                    auto c = bounce::classify(a.answer);
                    if (o.expired || a.connection_failed)
                        c = {a.answer.enhanced.rfind("4.4.3", 0) == 0 ? bounce::bounce_class::dns_failure
                                                                        : bounce::bounce_class::timeout_or_connection,
                             o.kind == outcome_kind::failed};
                    cls = std::string(bounce::to_string(c.cls));
                    if (o.kind == outcome_kind::failed) {
                        bnc.integer(1, now).text(2, a.message_id).text(3, a.recipient).text(4, cls)
                            .integer(5, 1).text(6, reply_text).run();
                        if (c.cls == bounce::bounce_class::invalid_recipient && !o.expired)
                            sup.text(1, a.recipient).text(2, reply_text).text(3, a.message_id).integer(4, now).run();
                    }
                }
                log.integer(1, now).text(2, a.message_id).text(3, a.recipient).text(4, result)
                    .text(5, reply_text).text(6, a.dest_host).text(7, a.dest_ip).text(8, a.source_ip)
                    .text(9, a.tls).text(10, cls).run();
                // Its one remaining recipient delivered: the message goes at once (cascade),
                // without updating that row and its index entries only to delete them.
                if (o.kind == outcome_kind::delivered && outcomes_per_message[a.message_id] == 1) {
                    drop_delivered.text(1, a.message_id).integer(2, a.row_id).run();
                    if (sqlite3_changes(db) > 0) {
                        touched[a.message_id] = false; // gone, with its recipient rows
                        continue;
                    }
                }
                upd.integer(1, a.row_id).text(2, state).integer(3, o.attempts)
                    .integer(4, o.kind == outcome_kind::deferred ? o.next_attempt_at : 0)
                    .text(5, reply_text).text(6, cls)
                    .integer(7, o.kind == outcome_kind::failed ? 1 : 0)
                    .integer(8, now).run();
                touched[a.message_id] = true;
            }
            auto del = cached(db, drop_finished_sql);
            for (const auto& [id, check] : touched)
                if (check) del.text(1, id).run();
        } catch (const std::exception& e) {
            log::error("outbound_record_failed", {{"error", e.what()}});
            throw;
        }
    }
}

std::optional<std::vector<std::string>> outbound_store::suppression_if_changed(std::string& fp) {
    using result = std::pair<std::string, std::optional<std::vector<std::string>>>;
    auto r = on_writer<result>(store_, [&fp](sqlite3* db) {
        stmt f(db, "SELECT count(*), coalesce(max(rowid), 0), coalesce(sum(length(address)), 0) "
                   "FROM suppression");
        f.step();
        std::string now = std::to_string(f.col_int(0)) + "/" + std::to_string(f.col_int(1)) + "/" +
                          std::to_string(f.col_int(2));
        if (now == fp) return result{now, std::nullopt};
        stmt q(db, "SELECT address FROM suppression");
        std::vector<std::string> all;
        while (q.step()) all.push_back(q.col_text(0));
        return result{now, std::move(all)};
    });
    fp = r.first;
    return r.second;
}

void outbound_store::delay_dsn_sent(const std::vector<std::int64_t>& rows) {
    store_.run_on_writer([rows](sqlite3* db) {
        try {
            exec(db, "BEGIN IMMEDIATE");
            stmt upd(db, "UPDATE recipients SET delay_dsn_sent = 1 WHERE id = ?1");
            for (auto r : rows) upd.integer(1, r).run();
            exec(db, "COMMIT");
        } catch (const std::exception& e) {
            sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
            log::error("outbound_delay_dsn_mark_failed", {{"error", e.what()}});
        }
    });
}

void outbound_store::dsn_sent(const std::string& queue_id, const std::vector<std::int64_t>& rows) {
    store_.run_on_writer([queue_id, rows](sqlite3* db) {
        try {
            exec(db, "BEGIN IMMEDIATE");
            stmt upd(db, "UPDATE recipients SET dsn_sent = 1 WHERE id = ?1");
            for (auto r : rows) upd.integer(1, r).run();
            drop_finished(db, queue_id);
            exec(db, "COMMIT");
        } catch (const std::exception& e) {
            sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
            log::error("outbound_dsn_mark_failed", {{"queue_id", queue_id}, {"error", e.what()}});
        }
    });
}

} // namespace cartero::outbound
