// daemon/queue/queue_admin.cpp — queue_admin: reads on a small pool of read-only connections,
// writes as store writer_tasks that publish an admin_event after their COMMIT.
#include "daemon/queue/queue_admin.hpp"

#include "daemon/queue/body_spool.hpp"

#include "core/log.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <utility>

namespace cartero::queue {

namespace {

std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// One prepared statement for one call (admin traffic is rare: no statement cache).
class query {
public:
    query(sqlite3* db, const std::string& sql) : db_(db) {
        if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st_, nullptr) != SQLITE_OK)
            throw std::runtime_error("queue.db: preparing a query: " +
                                     std::string(sqlite3_errmsg(db)));
    }
    query(const query&) = delete;
    query& operator=(const query&) = delete;
    ~query() { sqlite3_finalize(st_); }

    query& bind(int i, std::int64_t v) {
        sqlite3_bind_int64(st_, i, v);
        return *this;
    }
    query& bind(int i, const std::string& v) {
        sqlite3_bind_text(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
        return *this;
    }
    // true: a row is there; false: done. Throws on errors.
    bool next() {
        int rc = sqlite3_step(st_);
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        throw std::runtime_error("queue.db: " + std::string(sqlite3_errmsg(db_)));
    }
    void run() {
        while (next()) {
        }
    }
    std::int64_t int64(int c) const { return sqlite3_column_int64(st_, c); }
    std::string text(int c) const {
        auto p = reinterpret_cast<const char*>(sqlite3_column_text(st_, c));
        return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(st_, c)))
                 : std::string();
    }
    std::string blob(int c) const {
        auto p = static_cast<const char*>(sqlite3_column_blob(st_, c));
        return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(st_, c)))
                 : std::string();
    }

private:
    sqlite3* db_;
    sqlite3_stmt* st_ = nullptr;
};

void exec(sqlite3* db, const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
        std::string msg = err ? err : sqlite3_errmsg(db);
        sqlite3_free(err);
        throw std::runtime_error(std::string("queue.db: ") + sql + ": " + msg);
    }
}

// LIKE pattern for "contains s", with the wildcards of s escaped.
std::string contains_pattern(const std::string& s) {
    std::string out = "%";
    for (char c : s) {
        if (c == '%' || c == '_' || c == '\\') out += '\\';
        out += c;
    }
    return out + "%";
}

constexpr const char* recipient_columns =
    "id, rcpt_to, deliver_to, kind, state, attempts, next_attempt_at, first_attempt_at, "
    "updated_at, last_reply, bounce_class, notify, orcpt, dsn_sent";

recipient_view recipient_from(const query& q, int c) {
    recipient_view r;
    r.id = q.int64(c);
    r.rcpt_to = q.text(c + 1);
    r.deliver_to = q.text(c + 2);
    r.kind = q.text(c + 3);
    r.state = q.text(c + 4);
    r.attempts = q.int64(c + 5);
    r.next_attempt_at = q.int64(c + 6);
    r.first_attempt_at = q.int64(c + 7);
    r.updated_at = q.int64(c + 8);
    r.last_reply = q.text(c + 9);
    r.bounce_class = q.text(c + 10);
    r.notify = q.text(c + 11);
    r.orcpt = q.text(c + 12);
    r.dsn_sent = q.int64(c + 13) != 0;
    return r;
}

std::vector<recipient_view> recipients_of(sqlite3* db, const std::string& queue_id) {
    query q(db, std::string("SELECT ") + recipient_columns +
                    " FROM recipients WHERE message_id = ?1 ORDER BY id");
    q.bind(1, queue_id);
    std::vector<recipient_view> out;
    while (q.next()) out.push_back(recipient_from(q, 0));
    return out;
}

constexpr const char* log_columns =
    "id, at, message_id, recipient, result, reply, sender, message_id_header, dest_host, "
    "dest_ip, source_ip, tls, bounce_class";

log_row log_from(const query& q) {
    log_row r;
    r.id = q.int64(0);
    r.at = q.int64(1);
    r.message_id = q.text(2);
    r.recipient = q.text(3);
    r.result = q.text(4);
    r.reply = q.text(5);
    r.sender = q.text(6);
    r.message_id_header = q.text(7);
    r.dest_host = q.text(8);
    r.dest_ip = q.text(9);
    r.source_ip = q.text(10);
    r.tls = q.text(11);
    r.bounce_class = q.text(12);
    return r;
}

void check_limit(int limit, int offset) {
    if (limit < 1 || limit > queue_admin::max_limit)
        throw admin_error("limit must be from 1 to " + std::to_string(queue_admin::max_limit));
    if (offset < 0) throw admin_error("offset must not be negative");
}

bool message_exists(sqlite3* db, const std::string& id) {
    query q(db, "SELECT 1 FROM messages WHERE id = ?1");
    q.bind(1, id);
    return q.next();
}

admin_error not_found(const std::string& id) {
    return admin_error("no message " + id + " in the queue (delivered, deleted, or a wrong id; "
                       "see: carteroctl queue list)");
}

// The rows a write affects, inside its transaction. BEGIN IMMEDIATE: the write lock first, so the
// rows read are the rows changed.
struct txn {
    sqlite3* db;
    bool done = false;
    explicit txn(sqlite3* d) : db(d) { exec(db, "BEGIN IMMEDIATE"); }
    void commit() {
        exec(db, "COMMIT");
        done = true;
    }
    ~txn() {
        if (!done) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    }
};

} // namespace

struct queue_admin::reader {
    sqlite3* db = nullptr;
    ~reader() { sqlite3_close_v2(db); }
};

queue_admin::queue_admin(store& s, std::filesystem::path queue_db, std::size_t read_connections)
    : store_(s), path_(std::move(queue_db)), max_readers_(read_connections ? read_connections : 1) {
    give_back(acquire()); // fail at start, not at the first request, when queue.db is unreadable
}

queue_admin::~queue_admin() = default;

std::unique_ptr<queue_admin::reader> queue_admin::acquire() {
    {
        std::lock_guard lk(mu_);
        if (!idle_.empty()) {
            auto r = std::move(idle_.back());
            idle_.pop_back();
            return r;
        }
    }
    auto r = std::make_unique<reader>();
    int rc = sqlite3_open_v2(path_.c_str(), &r->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                             nullptr);
    if (rc != SQLITE_OK)
        throw std::runtime_error("queue.db " + path_.string() + ": cannot open for reading: " +
                                 (r->db ? sqlite3_errmsg(r->db) : sqlite3_errstr(rc)));
    sqlite3_busy_timeout(r->db, 5000);
    return r;
}

void queue_admin::give_back(std::unique_ptr<reader> r) {
    std::lock_guard lk(mu_);
    if (idle_.size() < max_readers_) idle_.push_back(std::move(r));
}

template <class T, class F>
T queue_admin::read(F&& fn) {
    auto r = acquire();
    // One read transaction: every query of a call sees the same commit.
    exec(r->db, "BEGIN");
    try {
        T out = fn(r->db);
        exec(r->db, "COMMIT");
        give_back(std::move(r));
        return out;
    } catch (...) {
        sqlite3_exec(r->db, "ROLLBACK", nullptr, nullptr, nullptr);
        give_back(std::move(r));
        throw;
    }
}

template <class T, class F>
T queue_admin::write(F&& fn) {
    auto p = std::make_shared<std::promise<T>>();
    auto f = p->get_future();
    const bool posted = store_.run_on_writer([p, fn = std::forward<F>(fn)](sqlite3* db) mutable {
        try {
            p->set_value(fn(db));
        } catch (...) {
            p->set_exception(std::current_exception());
        }
    });
    if (!posted) throw std::runtime_error("the queue is shutting down; try again after the restart");
    return f.get();
}

list_result queue_admin::list(const list_filter& f) {
    check_limit(f.limit, f.offset);
    if (!f.state.empty() && f.state != "queued" && f.state != "delivered" &&
        f.state != "deferred" && f.state != "failed")
        throw admin_error("state must be one of queued, deferred, failed, delivered");
    if (!f.kind.empty() && f.kind != "local" && f.kind != "remote")
        throw admin_error("kind must be local or remote");
    return read<list_result>([&](sqlite3* db) {
        // ?1 state, ?2 kind, ?3 recipient pattern, ?4 sender pattern, ?5 held (-1 = any)
        const std::string where =
            " FROM messages m WHERE (?5 < 0 OR m.held = ?5)"
            " AND (?4 = '' OR m.mail_from LIKE ?4 ESCAPE '\\')"
            " AND (?1 = '' AND ?2 = '' AND ?3 = '' OR EXISTS (SELECT 1 FROM recipients r"
            " WHERE r.message_id = m.id AND (?1 = '' OR r.state = ?1)"
            " AND (?2 = '' OR r.kind = ?2)"
            " AND (?3 = '' OR r.deliver_to LIKE ?3 ESCAPE '\\' OR r.rcpt_to LIKE ?3 ESCAPE '\\')))";
        auto bind = [&](query& q) {
            q.bind(1, f.state).bind(2, f.kind);
            q.bind(3, f.recipient.empty() ? std::string() : contains_pattern(f.recipient));
            q.bind(4, f.sender.empty() ? std::string() : contains_pattern(f.sender));
            q.bind(5, static_cast<std::int64_t>(f.held ? (*f.held ? 1 : 0) : -1));
        };
        list_result out;
        {
            query q(db, "SELECT count(*)" + where);
            bind(q);
            if (q.next()) out.total = q.int64(0);
        }
        query q(db, "SELECT m.id, m.received_at, m.mail_from, m.size, m.held, "
                    "m.message_id_header" + where +
                    " ORDER BY m.received_at, m.id LIMIT ?6 OFFSET ?7");
        bind(q);
        q.bind(6, static_cast<std::int64_t>(f.limit)).bind(7, static_cast<std::int64_t>(f.offset));
        while (q.next()) {
            message_view m;
            m.id = q.text(0);
            m.received_at = q.int64(1);
            m.sender = q.text(2);
            m.size = q.int64(3);
            m.held = q.int64(4) != 0;
            m.message_id_header = q.text(5);
            out.messages.push_back(std::move(m));
        }
        for (auto& m : out.messages) m.recipients = recipients_of(db, m.id);
        return out;
    });
}

std::optional<message_detail> queue_admin::show(const std::string& queue_id) {
    return read<std::optional<message_detail>>([&](sqlite3* db) -> std::optional<message_detail> {
        // Only the start of the body is read: the header section is all that is shown.
        query q(db, "SELECT id, received_at, mail_from, size, held, message_id_header, helo, "
                    "client_ip, auth_user, envid, dsn_ret, substr(body, 1, ?2), spooled "
                    "FROM messages WHERE id = ?1");
        q.bind(1, queue_id).bind(2, static_cast<std::int64_t>(max_header_bytes + 4));
        if (!q.next()) return std::nullopt;
        message_detail d;
        d.id = q.text(0);
        d.received_at = q.int64(1);
        d.sender = q.text(2);
        d.size = q.int64(3);
        d.held = q.int64(4) != 0;
        d.message_id_header = q.text(5);
        d.helo = q.text(6);
        d.client_ip = q.text(7);
        d.auth_user = q.text(8);
        d.envid = q.text(9);
        d.dsn_ret = q.text(10);
        // A spooled body's file is read the same way (an unreadable one is an error here).
        std::string start = q.int64(12) ? read_spooled_body(db, d.id, max_header_bytes + 4)
                                        : q.blob(11);
        auto end = start.find("\r\n\r\n");
        if (end != std::string::npos) {
            start.resize(end + 2);
        } else if (start.size() > max_header_bytes) {
            start.resize(max_header_bytes);
            d.headers_truncated = true;
        }
        if (start.size() > max_header_bytes) {
            start.resize(max_header_bytes);
            d.headers_truncated = true;
        }
        d.headers = std::move(start);
        d.recipients = recipients_of(db, d.id);
        query l(db, std::string("SELECT ") + log_columns +
                        " FROM delivery_log WHERE message_id = ?1 ORDER BY at, id");
        l.bind(1, d.id);
        while (l.next()) d.log.push_back(log_from(l));
        return d;
    });
}

queue_counts queue_admin::counts() {
    return read<queue_counts>([](sqlite3* db) {
        queue_counts c;
        for (const char* state : {"queued", "deferred", "failed", "delivered"})
            for (const char* kind : {"local", "remote"})
                c.recipients[std::string(state) + "/" + kind] = 0;
        {
            query q(db, "SELECT count(*), coalesce(sum(held), 0) FROM messages");
            if (q.next()) {
                c.messages = q.int64(0);
                c.held = q.int64(1);
            }
        }
        query q(db, "SELECT state, kind, count(*) FROM recipients GROUP BY state, kind");
        while (q.next()) c.recipients[q.text(0) + "/" + q.text(1)] = q.int64(2);
        return c;
    });
}

std::vector<log_row> queue_admin::search_log(const log_query& lq) {
    check_limit(lq.limit, 0);
    std::string q = lq.query;
    while (!q.empty() && (q.front() == ' ' || q.front() == '\t')) q.erase(0, 1);
    while (!q.empty() && (q.back() == ' ' || q.back() == '\t')) q.pop_back();
    if (q.empty()) throw admin_error("give an address, a queue id or a Message-ID to search for");
    if (q.size() > 998) throw admin_error("the search text is longer than 998 characters");
    // A Message-ID is stored as written in the header, with its angle brackets.
    std::string bare = q, bracketed = q;
    if (q.size() >= 2 && q.front() == '<' && q.back() == '>')
        bare = q.substr(1, q.size() - 2);
    else
        bracketed = "<" + q + ">";
    std::string lower = bare;
    for (auto& c : lower)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return read<std::vector<log_row>>([&](sqlite3* db) {
        // ?1 as given (no brackets), ?2 lower-cased (addresses are stored normalised),
        // ?3 with brackets; ?4/?5 time window; ?6 limit.
        query sq(db, std::string("SELECT ") + log_columns +
                         " FROM delivery_log WHERE (recipient IN (?1, ?2) OR sender IN (?1, ?2)"
                         " OR message_id = ?1 OR message_id_header IN (?3, ?1))"
                         " AND (?4 = 0 OR at >= ?4) AND (?5 = 0 OR at <= ?5)"
                         " ORDER BY at DESC, id DESC LIMIT ?6");
        sq.bind(1, bare).bind(2, lower).bind(3, bracketed);
        sq.bind(4, lq.since).bind(5, lq.until).bind(6, static_cast<std::int64_t>(lq.limit));
        std::vector<log_row> out;
        while (sq.next()) out.push_back(log_from(sq));
        return out;
    });
}

std::vector<suppression_row> queue_admin::suppressions(int limit, int offset) {
    check_limit(limit, offset);
    return read<std::vector<suppression_row>>([&](sqlite3* db) {
        query q(db, "SELECT address, reason, bounce_class, source_message, created_at "
                    "FROM suppression ORDER BY address LIMIT ?1 OFFSET ?2");
        q.bind(1, static_cast<std::int64_t>(limit)).bind(2, static_cast<std::int64_t>(offset));
        std::vector<suppression_row> out;
        while (q.next())
            out.push_back({q.text(0), q.text(1), q.text(2), q.text(3), q.int64(4)});
        return out;
    });
}

log_stats queue_admin::stats(std::int64_t now) {
    return read<log_stats>([now](sqlite3* db) {
        log_stats st;
        const std::int64_t hour0 = now - now % 3600 - 23 * 3600;
        const std::int64_t day0 = now - now % 86400 - 6 * 86400;
        for (int i = 0; i < 24; ++i) st.hourly.emplace_back(hour0 + i * 3600, result_counts{});
        for (int i = 0; i < 7; ++i) st.daily.emplace_back(day0 + i * 86400, result_counts{});
        auto add = [](result_counts& c, const std::string& result, std::int64_t n) {
            if (result == "delivered") c.delivered += n;
            else if (result == "deferred") c.deferred += n;
            else if (result == "failed") c.failed += n;
            else if (result == "bounced") c.bounced += n;
        };
        // Rows since the start of the oldest day bucket (at most 7 days + 1 day of rows).
        query q(db, "SELECT at, result FROM delivery_log WHERE at >= ?1 AND at <= ?2");
        q.bind(1, std::min(day0, now - 7 * 86400)).bind(2, now);
        while (q.next()) {
            const auto at = q.int64(0);
            const auto result = q.text(1);
            if (at > now - 86400) add(st.last_24h, result, 1);
            if (at > now - 7 * 86400) add(st.last_7d, result, 1);
            if (at >= hour0) add(st.hourly[static_cast<std::size_t>((at - hour0) / 3600)].second, result, 1);
            if (at >= day0) add(st.daily[static_cast<std::size_t>((at - day0) / 86400)].second, result, 1);
        }
        return st;
    });
}

bounce_report queue_admin::bounces(const bounce_query& bq) {
    check_limit(bq.limit, 0);
    return read<bounce_report>([&](sqlite3* db) {
        bounce_report r;
        query q(db, std::string("SELECT ") + log_columns +
                        " FROM delivery_log WHERE result IN ('failed', 'bounced')"
                        " AND (?1 = '' OR bounce_class = ?1) AND at >= ?2"
                        " ORDER BY at DESC, id DESC LIMIT ?3");
        q.bind(1, bq.bounce_class).bind(2, bq.since).bind(3, static_cast<std::int64_t>(bq.limit));
        while (q.next()) r.rows.push_back(log_from(q));
        query c(db, "SELECT bounce_class, count(*) FROM delivery_log"
                    " WHERE result IN ('failed', 'bounced') AND at >= ?1 GROUP BY bounce_class");
        c.bind(1, bq.since);
        while (c.next()) r.classes[c.text(0).empty() ? "other" : c.text(0)] += c.int64(1);
        return r;
    });
}

action_result queue_admin::hold(const std::string& queue_id) {
    return write<action_result>([this, queue_id](sqlite3* db) {
        txn t(db);
        if (!message_exists(db, queue_id)) throw not_found(queue_id);
        query(db, "UPDATE messages SET held = 1 WHERE id = ?1").bind(1, queue_id).run();
        t.commit();
        admin_event e;
        e.action = admin_action::held;
        e.queue_id = queue_id;
        store_.publish(e);
        return action_result{queue_id, 0};
    });
}

action_result queue_admin::release(const std::string& queue_id) {
    return write<action_result>([this, queue_id](sqlite3* db) {
        txn t(db);
        if (!message_exists(db, queue_id)) throw not_found(queue_id);
        query(db, "UPDATE messages SET held = 0 WHERE id = ?1").bind(1, queue_id).run();
        t.commit();
        admin_event e;
        e.action = admin_action::released;
        e.queue_id = queue_id;
        e.local_pending = detail::query_pending_local(db, queue_id);
        store_.publish(e);
        return action_result{queue_id, 0};
    });
}

action_result queue_admin::retry(const std::string& queue_id) {
    return write<action_result>([this, queue_id](sqlite3* db) {
        const std::int64_t now = unix_now();
        txn t(db);
        if (!message_exists(db, queue_id)) throw not_found(queue_id);
        query u(db, "UPDATE recipients SET next_attempt_at = ?2, updated_at = ?2 "
                    "WHERE message_id = ?1 AND state IN ('queued', 'deferred')");
        u.bind(1, queue_id).bind(2, now).run();
        const int n = sqlite3_changes(db);
        t.commit();
        admin_event e;
        e.action = admin_action::retried;
        e.queue_id = queue_id;
        e.local_pending = detail::query_pending_local(db, queue_id);
        store_.publish(e);
        return action_result{queue_id, n};
    });
}

action_result queue_admin::remove(const std::string& queue_id) {
    return write<action_result>([this, queue_id](sqlite3* db) {
        const std::int64_t now = unix_now();
        txn t(db);
        if (!message_exists(db, queue_id)) throw not_found(queue_id);
        admin_event e;
        e.action = admin_action::deleted;
        e.queue_id = queue_id;
        {
            query q(db, "SELECT deliver_to FROM recipients WHERE message_id = ?1 AND "
                        "state <> 'delivered' ORDER BY id");
            q.bind(1, queue_id);
            while (q.next()) e.recipients.push_back(q.text(0));
        }
        query(db, "INSERT INTO delivery_log(at, message_id, recipient, result, reply, sender, "
                  "message_id_header) SELECT ?2, m.id, r.deliver_to, 'failed', ?3, m.mail_from, "
                  "m.message_id_header FROM recipients r JOIN messages m ON m.id = r.message_id "
                  "WHERE m.id = ?1 AND r.state <> 'delivered' ORDER BY r.id")
            .bind(1, queue_id)
            .bind(2, now)
            .bind(3, std::string(delete_reply))
            .run();
        query(db, "DELETE FROM recipients WHERE message_id = ?1").bind(1, queue_id).run();
        query(db, "DELETE FROM messages WHERE id = ?1").bind(1, queue_id).run();
        t.commit();
        log::info("queue_deleted", {{"queue_id", queue_id},
                                    {"recipients", std::to_string(e.recipients.size())}});
        store_.publish(e);
        return action_result{queue_id, static_cast<int>(e.recipients.size())};
    });
}

action_result queue_admin::bounce(const std::string& queue_id) {
    return write<action_result>([this, queue_id](sqlite3* db) {
        const std::int64_t now = unix_now();
        txn t(db);
        if (!message_exists(db, queue_id)) throw not_found(queue_id);
        admin_event e;
        e.action = admin_action::bounced;
        e.queue_id = queue_id;
        {
            query q(db, "SELECT deliver_to FROM recipients WHERE message_id = ?1 AND "
                        "state IN ('queued', 'deferred') ORDER BY id");
            q.bind(1, queue_id);
            while (q.next()) e.recipients.push_back(q.text(0));
        }
        const std::string reply = bounce_reply;
        query(db, "INSERT INTO delivery_log(at, message_id, recipient, result, reply, sender, "
                  "message_id_header, bounce_class) SELECT ?2, m.id, r.deliver_to, 'bounced', ?3, "
                  "m.mail_from, m.message_id_header, 'other' FROM recipients r "
                  "JOIN messages m ON m.id = r.message_id WHERE m.id = ?1 AND "
                  "r.state IN ('queued', 'deferred') ORDER BY r.id")
            .bind(1, queue_id)
            .bind(2, now)
            .bind(3, reply)
            .run();
        query(db, "UPDATE recipients SET state = 'failed', last_reply = ?3, next_attempt_at = 0, "
                  "bounce_class = 'other', dsn_sent = 0, updated_at = ?2 "
                  "WHERE message_id = ?1 AND state IN ('queued', 'deferred')")
            .bind(1, queue_id)
            .bind(2, now)
            .bind(3, reply)
            .run();
        t.commit();
        log::info("queue_bounced", {{"queue_id", queue_id},
                                    {"recipients", std::to_string(e.recipients.size())}});
        store_.publish(e);
        return action_result{queue_id, static_cast<int>(e.recipients.size())};
    });
}

bool queue_admin::suppress(const std::string& address, const std::string& reason) {
    return write<bool>([address, reason](sqlite3* db) {
        txn t(db);
        query q(db, "INSERT INTO suppression(address, reason, created_at) VALUES (?1, ?2, ?3) "
                    "ON CONFLICT(address) DO NOTHING");
        q.bind(1, address).bind(2, reason).bind(3, unix_now()).run();
        const bool added = sqlite3_changes(db) > 0;
        t.commit();
        return added;
    });
}

bool queue_admin::unsuppress(const std::string& address) {
    return write<bool>([address](sqlite3* db) {
        txn t(db);
        query(db, "DELETE FROM suppression WHERE address = ?1").bind(1, address).run();
        const bool removed = sqlite3_changes(db) > 0;
        t.commit();
        return removed;
    });
}

} // namespace cartero::queue
