// core/queue_schema.cpp — queue.db tables (messages, recipients, delivery_log) and migrations.
#include "core/queue_schema.hpp"

#include <sqlite3.h>

#include <stdexcept>
#include <string>

namespace cartero::queue_db {

namespace {

// Step N (1-based) brings the database from user_version N-1 to N. Never edit a released step:
// append a new one (ALTER TABLE / new table + copy) instead.
//
// Design notes for the steps below:
// - messages.body holds the whole message (Received already prepended, CRLF); the row is
//   deleted once every recipient is 'delivered', which also removes its recipients (CASCADE).
// - recipients.kind 'remote' rows stay 'queued' until the outbound scheduler takes them; the
//   index on (state, kind, next_attempt_at) is the scheduler's "what is due" query.
// - next_attempt_at = 0 on a 'deferred' row means "no retry scheduled" (e.g. 552 mailbox full,
//   waiting for the bounce machinery), > 0 is the unix time of the next try.
// - delivery_log has no foreign key: the log outlives the message it describes.
constexpr const char* steps[] = {
    // 1: initial layout
    R"sql(
CREATE TABLE messages(
    id          TEXT PRIMARY KEY,
    received_at INTEGER NOT NULL,
    mail_from   TEXT NOT NULL,
    helo        TEXT NOT NULL DEFAULT '',
    client_ip   TEXT NOT NULL DEFAULT '',
    auth_user   TEXT NOT NULL DEFAULT '',
    size        INTEGER NOT NULL,
    body        BLOB NOT NULL
);
CREATE TABLE recipients(
    id              INTEGER PRIMARY KEY,
    message_id      TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    rcpt_to         TEXT NOT NULL,
    deliver_to      TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('local', 'remote')),
    maildir         TEXT NOT NULL DEFAULT '',
    quota_bytes     INTEGER NOT NULL DEFAULT 0,
    state           TEXT NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'delivered', 'deferred', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    last_reply      TEXT NOT NULL DEFAULT '',
    updated_at      INTEGER NOT NULL
);
CREATE INDEX recipients_message ON recipients(message_id);
CREATE INDEX recipients_due ON recipients(state, kind, next_attempt_at);
CREATE TABLE delivery_log(
    id         INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    recipient  TEXT NOT NULL,
    result     TEXT NOT NULL CHECK (result IN ('delivered', 'deferred', 'failed', 'bounced')),
    reply      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX delivery_log_message ON delivery_log(message_id);
CREATE INDEX delivery_log_recipient ON delivery_log(recipient);
CREATE INDEX delivery_log_at ON delivery_log(at);
)sql",
    // 2: outbound delivery and operations — holds, DSN parameters (RFC 3461), Message-ID for
    // log search, richer attempt rows, bounce classes, the suppression list.
    R"sql(
ALTER TABLE messages ADD COLUMN held INTEGER NOT NULL DEFAULT 0 CHECK (held IN (0, 1));
ALTER TABLE messages ADD COLUMN message_id_header TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN envid TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN dsn_ret TEXT NOT NULL DEFAULT ''
    CHECK (dsn_ret IN ('', 'FULL', 'HDRS'));
CREATE INDEX messages_msgid ON messages(message_id_header);

ALTER TABLE recipients ADD COLUMN notify TEXT NOT NULL DEFAULT '';
ALTER TABLE recipients ADD COLUMN orcpt TEXT NOT NULL DEFAULT '';
ALTER TABLE recipients ADD COLUMN first_attempt_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE recipients ADD COLUMN bounce_class TEXT NOT NULL DEFAULT '';
ALTER TABLE recipients ADD COLUMN dsn_sent INTEGER NOT NULL DEFAULT 0 CHECK (dsn_sent IN (0, 1));

ALTER TABLE delivery_log ADD COLUMN sender TEXT NOT NULL DEFAULT '';
ALTER TABLE delivery_log ADD COLUMN message_id_header TEXT NOT NULL DEFAULT '';
ALTER TABLE delivery_log ADD COLUMN dest_host TEXT NOT NULL DEFAULT '';
ALTER TABLE delivery_log ADD COLUMN dest_ip TEXT NOT NULL DEFAULT '';
ALTER TABLE delivery_log ADD COLUMN source_ip TEXT NOT NULL DEFAULT '';
ALTER TABLE delivery_log ADD COLUMN tls TEXT NOT NULL DEFAULT '';
ALTER TABLE delivery_log ADD COLUMN bounce_class TEXT NOT NULL DEFAULT '';
CREATE INDEX delivery_log_msgid ON delivery_log(message_id_header);

-- Recipients refused at submission until removed (invalid-recipient hard bounces land here).
CREATE TABLE suppression(
    address        TEXT PRIMARY KEY CHECK (address = lower(address)),
    reason         TEXT NOT NULL,
    bounce_class   TEXT NOT NULL DEFAULT '',
    source_message TEXT NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL
);

-- Every classified failure, synchronous (a reply in our session) or asynchronous (a DSN that
-- came back to a VERP address), linked to the original message and recipient.
CREATE TABLE bounces(
    id           INTEGER PRIMARY KEY,
    at           INTEGER NOT NULL,
    message_id   TEXT NOT NULL,
    recipient    TEXT NOT NULL,
    bounce_class TEXT NOT NULL,
    hard         INTEGER NOT NULL CHECK (hard IN (0, 1)),
    reply        TEXT NOT NULL DEFAULT '',
    source       TEXT NOT NULL CHECK (source IN ('sync', 'async'))
);
CREATE INDEX bounces_at ON bounces(at);
CREATE INDEX bounces_recipient ON bounces(recipient);
)sql",
    // 3: inbound filtering and autoreplies — greylisting triplets, the autoresponder's
    // "already answered this sender" memory (RFC 3834 §2), delay-DSN bookkeeping.
    R"sql(
-- One row per (client network, envelope sender, recipient). passed_at > 0 once the triplet
-- retried after the delay; such triplets (and their client network) pass without delay.
CREATE TABLE greylist(
    client_net TEXT NOT NULL,
    sender     TEXT NOT NULL,
    recipient  TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    passed_at  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (client_net, sender, recipient)
) WITHOUT ROWID;
CREATE INDEX greylist_last_seen ON greylist(last_seen);

-- The last autoreply a mailbox sent to a sender; a new one only after the interval.
CREATE TABLE autoreply_sent(
    mailbox TEXT NOT NULL,
    sender  TEXT NOT NULL,
    sent_at INTEGER NOT NULL,
    PRIMARY KEY (mailbox, sender)
) WITHOUT ROWID;

-- 1 once a "delayed" DSN (RFC 3464 Action: delayed) went out for this recipient.
ALTER TABLE recipients ADD COLUMN delay_dsn_sent INTEGER NOT NULL DEFAULT 0
    CHECK (delay_dsn_sent IN (0, 1));
)sql",
    // 4: the same tables with CHECKs that SQLite evaluates without a temporary table. A CHECK
    // `x IN (a, b, c)` with more than two values builds an ephemeral index on every INSERT or
    // UPDATE that checks it — four per relayed message, ~10 % of carterod's instructions
    // (bench/callgrind-relay). `x = a OR x = b …` accepts exactly the same rows. SQLite cannot
    // alter a CHECK, so messages, recipients and delivery_log are rebuilt (SQLite's 12-step
    // procedure; migrate() turns foreign keys off around this step and runs foreign_key_check).
    R"sql(
CREATE TABLE messages_v4(
    id                TEXT PRIMARY KEY,
    received_at       INTEGER NOT NULL,
    mail_from         TEXT NOT NULL,
    helo              TEXT NOT NULL DEFAULT '',
    client_ip         TEXT NOT NULL DEFAULT '',
    auth_user         TEXT NOT NULL DEFAULT '',
    size              INTEGER NOT NULL,
    body              BLOB NOT NULL,
    held              INTEGER NOT NULL DEFAULT 0 CHECK (held IN (0, 1)),
    message_id_header TEXT NOT NULL DEFAULT '',
    envid             TEXT NOT NULL DEFAULT '',
    dsn_ret           TEXT NOT NULL DEFAULT ''
                      CHECK (dsn_ret = '' OR dsn_ret = 'FULL' OR dsn_ret = 'HDRS')
);
INSERT INTO messages_v4(id, received_at, mail_from, helo, client_ip, auth_user, size, body, held,
                        message_id_header, envid, dsn_ret)
    SELECT id, received_at, mail_from, helo, client_ip, auth_user, size, body, held,
           message_id_header, envid, dsn_ret FROM messages;
DROP TABLE messages;
ALTER TABLE messages_v4 RENAME TO messages;
CREATE INDEX messages_msgid ON messages(message_id_header);

-- AUTOINCREMENT: a row id is never reused after its message is deleted, so a late result
-- (an outcome or mark for a message an admin deleted meanwhile) cannot land on a new recipient.
CREATE TABLE recipients_v4(
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id       TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    rcpt_to          TEXT NOT NULL,
    deliver_to       TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('local', 'remote')),
    maildir          TEXT NOT NULL DEFAULT '',
    quota_bytes      INTEGER NOT NULL DEFAULT 0,
    state            TEXT NOT NULL DEFAULT 'queued'
                     CHECK (state = 'queued' OR state = 'delivered' OR state = 'deferred' OR
                            state = 'failed'),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL DEFAULT 0,
    last_reply       TEXT NOT NULL DEFAULT '',
    updated_at       INTEGER NOT NULL,
    notify           TEXT NOT NULL DEFAULT '',
    orcpt            TEXT NOT NULL DEFAULT '',
    first_attempt_at INTEGER NOT NULL DEFAULT 0,
    bounce_class     TEXT NOT NULL DEFAULT '',
    dsn_sent         INTEGER NOT NULL DEFAULT 0 CHECK (dsn_sent IN (0, 1)),
    delay_dsn_sent   INTEGER NOT NULL DEFAULT 0 CHECK (delay_dsn_sent IN (0, 1))
);
INSERT INTO recipients_v4(id, message_id, rcpt_to, deliver_to, kind, maildir, quota_bytes, state,
                          attempts, next_attempt_at, last_reply, updated_at, notify, orcpt,
                          first_attempt_at, bounce_class, dsn_sent, delay_dsn_sent)
    SELECT id, message_id, rcpt_to, deliver_to, kind, maildir, quota_bytes, state, attempts,
           next_attempt_at, last_reply, updated_at, notify, orcpt, first_attempt_at,
           bounce_class, dsn_sent, delay_dsn_sent FROM recipients
    -- A recipient without its message (only writable with foreign keys off) has no body to
    -- deliver: it is dropped rather than stopping carterod's start on the key check below.
    WHERE message_id IN (SELECT id FROM messages);
DROP TABLE recipients;
ALTER TABLE recipients_v4 RENAME TO recipients;
CREATE INDEX recipients_message ON recipients(message_id);
CREATE INDEX recipients_due ON recipients(state, kind, next_attempt_at);

CREATE TABLE delivery_log_v4(
    id                INTEGER PRIMARY KEY,
    at                INTEGER NOT NULL,
    message_id        TEXT NOT NULL,
    recipient         TEXT NOT NULL,
    result            TEXT NOT NULL
                      CHECK (result = 'delivered' OR result = 'deferred' OR result = 'failed' OR
                             result = 'bounced'),
    reply             TEXT NOT NULL DEFAULT '',
    sender            TEXT NOT NULL DEFAULT '',
    message_id_header TEXT NOT NULL DEFAULT '',
    dest_host         TEXT NOT NULL DEFAULT '',
    dest_ip           TEXT NOT NULL DEFAULT '',
    source_ip         TEXT NOT NULL DEFAULT '',
    tls               TEXT NOT NULL DEFAULT '',
    bounce_class      TEXT NOT NULL DEFAULT ''
);
INSERT INTO delivery_log_v4(id, at, message_id, recipient, result, reply, sender,
                            message_id_header, dest_host, dest_ip, source_ip, tls, bounce_class)
    SELECT id, at, message_id, recipient, result, reply, sender, message_id_header, dest_host,
           dest_ip, source_ip, tls, bounce_class FROM delivery_log;
DROP TABLE delivery_log;
ALTER TABLE delivery_log_v4 RENAME TO delivery_log;
CREATE INDEX delivery_log_message ON delivery_log(message_id);
CREATE INDEX delivery_log_recipient ON delivery_log(recipient);
CREATE INDEX delivery_log_at ON delivery_log(at);
CREATE INDEX delivery_log_msgid ON delivery_log(message_id_header);
)sql",
    // 5: large bodies live in spool/<queue id> beside queue.db (daemon/queue/body_spool.hpp):
    // spooled = 1 means messages.body is empty and the file holds the message; size is the
    // body's size either way.
    R"sql(
ALTER TABLE messages ADD COLUMN spooled INTEGER NOT NULL DEFAULT 0
    CHECK (spooled = 0 OR spooled = 1);
)sql",
};

// Steps that rebuild a table referenced by a foreign key: DROP TABLE would cascade-delete the
// children with foreign keys on, so migrate() runs them with foreign keys off (the pragma is a
// no-op inside a transaction, hence outside BEGIN) and checks the result before COMMIT.
constexpr bool rebuilds_tables(int step) { return step == 4; }

constexpr int step_count = static_cast<int>(sizeof(steps) / sizeof(steps[0]));
static_assert(step_count == schema_version, "one migration step per schema version");

[[noreturn]] void fail(sqlite3* db, const std::string& what) {
    throw std::runtime_error("queue.db: " + what + ": " + sqlite3_errmsg(db));
}

void exec(sqlite3* db, const char* sql, const std::string& what) {
    char* err = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
        std::string msg = err ? err : sqlite3_errmsg(db);
        sqlite3_free(err);
        throw std::runtime_error("queue.db: " + what + ": " + msg);
    }
}

// The first column of the first row of a one-row pragma (0 with no row when allowed).
int pragma_int(sqlite3* db, const char* sql, const char* what, bool row_required = true) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) != SQLITE_OK) fail(db, what);
    int v = 0;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && (row_required || rc != SQLITE_DONE)) fail(db, what);
    return v;
}

int user_version(sqlite3* db) {
    return pragma_int(db, "PRAGMA user_version", "reading the schema version");
}

// Any row from foreign_key_check is a child row without its parent.
bool foreign_keys_hold(sqlite3* db) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1, &st, nullptr) != SQLITE_OK)
        fail(db, "checking foreign keys");
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) fail(db, "checking foreign keys");
    return rc == SQLITE_DONE;
}

} // namespace

void migrate(sqlite3* db) { migrate_to(db, schema_version); }

void migrate_to(sqlite3* db, int target) {
    if (db == nullptr) throw std::runtime_error("queue.db: migrate called without a database");
    if (target < 0 || target > schema_version)
        throw std::runtime_error("queue.db: no schema version " + std::to_string(target));
    int current = user_version(db);
    if (current > schema_version)
        throw std::runtime_error("queue.db: schema version " + std::to_string(current) +
                                 " is newer than this build supports (" +
                                 std::to_string(schema_version) + "); refusing to touch it");
    while (current < target) {
        const int next = current + 1;
        const std::string what = "migration to schema version " + std::to_string(next);
        const bool fk_off = rebuilds_tables(next);
        const bool fk_were_on =
            fk_off && pragma_int(db, "PRAGMA foreign_keys", "reading foreign_keys", false) != 0;
        if (fk_were_on) exec(db, "PRAGMA foreign_keys=OFF", what);
        // IMMEDIATE: take the write lock first, then re-read the version, so two processes
        // migrating at once (carteroctl init racing carterod) do not both run a step.
        try {
            exec(db, "BEGIN IMMEDIATE", what);
            try {
                if (user_version(db) != current) { // someone else migrated meanwhile
                    exec(db, "COMMIT", what);
                    current = user_version(db);
                    if (fk_were_on) exec(db, "PRAGMA foreign_keys=ON", what);
                    continue;
                }
                exec(db, steps[current], what);
                if (fk_off && !foreign_keys_hold(db))
                    throw std::runtime_error("queue.db: " + what +
                                             ": rows without their message after the rebuild");
                exec(db, ("PRAGMA user_version = " + std::to_string(next)).c_str(), what);
                exec(db, "COMMIT", what);
            } catch (...) {
                sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
                throw;
            }
        } catch (...) {
            if (fk_were_on) sqlite3_exec(db, "PRAGMA foreign_keys=ON", nullptr, nullptr, nullptr);
            throw;
        }
        if (fk_were_on) exec(db, "PRAGMA foreign_keys=ON", what);
        current = next;
    }
}

} // namespace cartero::queue_db
