// daemon/inbound/bounce_intake.cpp — SQL for asynchronous bounces, run on the queue's writer thread.
#include "daemon/inbound/bounce_intake.hpp"

#include <sqlite3.h>

#include <stdexcept>
#include <vector>

namespace cartero::inbound {

namespace {

struct stmt {
    sqlite3_stmt* s = nullptr;
    stmt(sqlite3* db, const char* sql) {
        if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) != SQLITE_OK)
            throw std::runtime_error(std::string("queue.db: ") + sqlite3_errmsg(db));
    }
    ~stmt() { sqlite3_finalize(s); }
    stmt(const stmt&) = delete;
    stmt& operator=(const stmt&) = delete;
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
        if (rc != SQLITE_DONE)
            throw std::runtime_error(std::string("queue.db: ") +
                                     sqlite3_errmsg(sqlite3_db_handle(s)));
        return false;
    }
    std::string col(int i) const {
        auto p = sqlite3_column_text(s, i);
        return p ? std::string(reinterpret_cast<const char*>(p),
                               static_cast<std::size_t>(sqlite3_column_bytes(s, i)))
                 : std::string();
    }
};

void exec(sqlite3* db, const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
        std::string m = err ? err : "error";
        sqlite3_free(err);
        throw std::runtime_error("queue.db: " + m);
    }
}

std::string lower(std::string s) {
    for (auto& c : s)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return s;
}

bool names(const bounce::bounced_recipient& r, const std::string& address) {
    const std::string a = lower(address);
    return lower(r.final_recipient) == a || lower(r.original_recipient) == a;
}

bool is_problem(const bounce::bounced_recipient& r) {
    return r.action == "failed" || r.action == "delayed";
}

} // namespace

intake_result record_async_bounce(sqlite3* db, const bounce::verp_ref& ref,
                                  const bounce::parsed_bounce& report, std::int64_t now) {
    intake_result out;
    out.queue_id = ref.queue_id;
    try {
        exec(db, "BEGIN IMMEDIATE");
        std::string msgid_header;
        // 1. The original recipient: its row while the message is queued…
        {
            stmt q(db, "SELECT r.deliver_to, m.mail_from, m.message_id_header FROM recipients r "
                       "JOIN messages m ON m.id = r.message_id WHERE r.id = ?1 AND m.id = ?2");
            q.integer(1, static_cast<std::int64_t>(ref.recipient_id)).text(2, ref.queue_id);
            if (q.step()) {
                out.linked = true;
                out.recipient = q.col(0);
                out.sender = q.col(1);
                msgid_header = q.col(2);
            }
        }
        // …else the delivery log (the token names a row that is gone with its message).
        if (!out.linked) {
            stmt q(db, "SELECT recipient, sender, message_id_header FROM delivery_log "
                       "WHERE message_id = ?1 ORDER BY id");
            q.text(1, ref.queue_id);
            std::vector<std::string> seen;
            while (q.step()) {
                std::string r = q.col(0);
                out.sender = q.col(1);
                msgid_header = q.col(2);
                bool dup = false;
                for (const auto& s : seen) dup = dup || lower(s) == lower(r);
                if (!dup) seen.push_back(std::move(r));
            }
            if (seen.size() == 1) {
                out.recipient = seen.front();
            } else {
                // Several recipients logged: the report's own addresses tell which one.
                for (const auto& s : seen)
                    for (const auto& br : report.recipients)
                        if (out.recipient.empty() && names(br, s)) out.recipient = s;
            }
            out.linked = !out.recipient.empty();
        }
        // 2. The report's entry for that recipient (else its only failed/delayed one).
        const bounce::bounced_recipient* entry = nullptr;
        if (out.linked) {
            for (const auto& br : report.recipients)
                if (!entry && names(br, out.recipient)) entry = &br;
            if (!entry) {
                std::size_t problems = 0;
                for (const auto& br : report.recipients)
                    if (is_problem(br)) {
                        ++problems;
                        if (!entry) entry = &br;
                    }
                if (problems != 1) entry = nullptr;
            }
        }
        if (entry) out.action = entry->action;
        if (entry && is_problem(*entry)) {
            const bool failed = entry->action == "failed";
            out.bounce_class = std::string(bounce::to_string(entry->cls.cls));
            out.hard = failed && entry->cls.hard;
            out.reply = entry->status;
            if (!entry->diagnostic.empty())
                out.reply += (out.reply.empty() ? "" : " ") + entry->diagnostic;
            if (!report.reporting_mta.empty())
                out.reply += " (reported by " + report.reporting_mta + ")";
            stmt bnc(db, "INSERT INTO bounces (at, message_id, recipient, bounce_class, hard, "
                         "reply, source) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'async')");
            bnc.integer(1, now).text(2, ref.queue_id).text(3, out.recipient)
                .text(4, out.bounce_class).integer(5, out.hard ? 1 : 0).text(6, out.reply).step();
            stmt log(db, "INSERT INTO delivery_log (at, message_id, recipient, result, reply, "
                         "sender, message_id_header, dest_host, bounce_class) "
                         "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
            log.integer(1, now).text(2, ref.queue_id).text(3, out.recipient)
                .text(4, failed ? "bounced" : "deferred").text(5, "async DSN: " + out.reply)
                .text(6, out.sender).text(7, msgid_header).text(8, report.reporting_mta)
                .text(9, out.bounce_class).step();
            if (out.hard && entry->cls.cls == bounce::bounce_class::invalid_recipient) {
                stmt sup(db, "INSERT OR IGNORE INTO suppression (address, reason, bounce_class, "
                             "source_message, created_at) "
                             "VALUES (lower(?1), ?2, 'invalid-recipient', ?3, ?4)");
                sup.text(1, out.recipient).text(2, "async DSN: " + out.reply)
                    .text(3, ref.queue_id).integer(4, now).step();
                out.suppressed = true;
            }
            out.recorded = true;
        }
        exec(db, "COMMIT");
    } catch (const std::exception& e) {
        sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
        out.error = e.what();
        out.recorded = out.suppressed = false;
    }
    return out;
}

} // namespace cartero::inbound
