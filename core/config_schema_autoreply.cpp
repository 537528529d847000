// core/config_schema_autoreply.cpp — config.db step 5: autoresponders (RFC 3834) and greylisting.
#include "core/config_schema.hpp"

namespace cartero::config {

// Step 1 created a loose `autoresponders` table that nothing wrote; it is rebuilt here with the
// rules core/autoreply_store checks first (rows are copied, so a hand-made one survives if it
// fits). Greylisting is per domain (the RCPT check in carterod) with one global whitelist of
// client networks and sender domains; its triplets live in queue.db (step 3 there), written by
// carterod alone.
std::string_view schema_step_autoreply() {
    return R"sql(
CREATE TABLE autoresponders_new (
    id            INTEGER PRIMARY KEY,
    mailbox_id    INTEGER NOT NULL UNIQUE REFERENCES mailboxes (id) ON DELETE CASCADE,
    enabled       INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    -- '' = "Auto: " + the original subject (RFC 3834 §3.1.5). One header line: no CR/LF.
    subject       TEXT NOT NULL DEFAULT ''
                  CHECK (length(CAST(subject AS BLOB)) <= 900
                         AND instr(subject, char(13)) = 0 AND instr(subject, char(10)) = 0),
    body_text     TEXT NOT NULL CHECK (length(CAST(body_text AS BLOB)) BETWEEN 1 AND 65536),
    body_html     TEXT CHECK (body_html IS NULL
                              OR length(CAST(body_html AS BLOB)) BETWEEN 1 AND 262144),
    -- Unix seconds; NULL = open-ended on that side.
    start_at      INTEGER CHECK (start_at IS NULL OR typeof(start_at) = 'integer'),
    end_at        INTEGER CHECK (end_at IS NULL OR typeof(end_at) = 'integer'),
    interval_days INTEGER NOT NULL DEFAULT 7
                  CHECK (typeof(interval_days) = 'integer' AND interval_days BETWEEN 1 AND 365),
    created_at    INTEGER NOT NULL DEFAULT (CAST(strftime('%s', 'now') AS INTEGER)),
    updated_at    INTEGER NOT NULL DEFAULT (CAST(strftime('%s', 'now') AS INTEGER)),
    CHECK (start_at IS NULL OR end_at IS NULL OR start_at <= end_at)
);
INSERT INTO autoresponders_new (id, mailbox_id, enabled, subject, body_text, body_html,
                                start_at, end_at, interval_days, created_at)
    SELECT id, mailbox_id, enabled, subject, body_text, body_html, start_at, end_at,
           interval_days, created_at
    FROM autoresponders
    WHERE length(body_text) > 0 AND interval_days BETWEEN 1 AND 365;
DROP TABLE autoresponders;
ALTER TABLE autoresponders_new RENAME TO autoresponders;

-- Greylisting per local domain (a domain without a row: off).
CREATE TABLE greylist_domains (
    domain_id        INTEGER PRIMARY KEY REFERENCES domains (id) ON DELETE CASCADE,
    enabled          INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    -- A new triplet is refused (451 4.7.1) until this many seconds after its first attempt.
    delay_seconds    INTEGER NOT NULL DEFAULT 300
                     CHECK (typeof(delay_seconds) = 'integer' AND delay_seconds BETWEEN 1 AND 86400),
    -- A retry later than this after the first attempt counts as a new first attempt.
    retry_window_seconds INTEGER NOT NULL DEFAULT 172800
                     CHECK (typeof(retry_window_seconds) = 'integer'
                            AND retry_window_seconds BETWEEN 60 AND 2592000),
    -- Passed triplets, and the client networks they auto-whitelist, are forgotten after this
    -- many days without mail.
    expiry_days      INTEGER NOT NULL DEFAULT 35
                     CHECK (typeof(expiry_days) = 'integer' AND expiry_days BETWEEN 1 AND 365),
    CHECK (retry_window_seconds > delay_seconds)
);

-- Never greylisted: a client network (kind 'network', value a CIDR as config::parse_cidr
-- prints it) or a sender domain (kind 'sender_domain', an A-label; its subdomains too).
CREATE TABLE greylist_whitelist (
    id         INTEGER PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('network', 'sender_domain')),
    value      TEXT NOT NULL CHECK (length(value) BETWEEN 1 AND 253 AND value = lower(value)
                                    AND value NOT GLOB '*[^a-z0-9.:/-]*'),
    note       TEXT NOT NULL DEFAULT '' CHECK (length(note) <= 200),
    created_at INTEGER NOT NULL DEFAULT (CAST(strftime('%s', 'now') AS INTEGER)),
    UNIQUE (kind, value)
);
)sql";
}

} // namespace cartero::config
