// core/config_schema_filtering.cpp — config.db step 4: spam settings (global and per domain),
// header/body rules, sender/recipient allow and block lists, DNSBL/DNSWL zones.
#include "core/config_schema.hpp"

namespace cartero::config {

// core/filter_store.cpp checks everything first (with better messages, and the RE2 compile of
// patterns, which SQL cannot do); these CHECKs and triggers keep other writers (sqlite3 CLI, a
// panel bug) from storing what carterod would misread. Defaults live in filter_store.hpp.
std::string_view schema_step_filtering() {
    return R"sql(
-- One global row (domain_id NULL) and optional per-domain rows; a NULL column inherits the
-- global value, and a NULL global value means the built-in default.
CREATE TABLE spam_settings (
    id                      INTEGER PRIMARY KEY,
    domain_id               INTEGER REFERENCES domains (id) ON DELETE CASCADE,
    enabled                 INTEGER CHECK (enabled IS NULL OR enabled IN (0, 1)),
    tag_threshold           REAL CHECK (tag_threshold IS NULL
                                        OR tag_threshold BETWEEN -1000 AND 1000),
    junk_threshold          REAL CHECK (junk_threshold IS NULL
                                        OR junk_threshold BETWEEN -1000 AND 1000),
    reject_threshold        REAL CHECK (reject_threshold IS NULL
                                        OR reject_threshold BETWEEN -1000 AND 1000),
    dmarc_reject_action     TEXT CHECK (dmarc_reject_action IS NULL
                                        OR dmarc_reject_action IN ('reject', 'junk', 'none')),
    dmarc_quarantine_action TEXT CHECK (dmarc_quarantine_action IS NULL
                                        OR dmarc_quarantine_action IN ('reject', 'junk', 'none'))
);
CREATE UNIQUE INDEX spam_settings_scope ON spam_settings (ifnull(domain_id, 0));

-- Regular expressions (RE2 syntax) on one header field's unfolded value, on the Subject, or
-- on the decoded text parts of the body.
CREATE TABLE spam_rules (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE
                CHECK (length(name) BETWEEN 1 AND 64 AND name NOT GLOB '*[^A-Za-z0-9_.-]*'),
    target      TEXT NOT NULL CHECK (target IN ('header', 'body')),
    header_name TEXT CHECK (header_name IS NULL OR (length(header_name) BETWEEN 1 AND 76
                            AND header_name = lower(header_name)
                            AND header_name NOT GLOB '*[^a-z0-9-]*')),
    pattern     TEXT NOT NULL CHECK (length(CAST(pattern AS BLOB)) BETWEEN 1 AND 1024),
    score       REAL NOT NULL CHECK (score BETWEEN -100 AND 100),
    description TEXT NOT NULL DEFAULT '' CHECK (length(description) <= 200),
    enabled     INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    created_at  INTEGER NOT NULL DEFAULT (CAST(strftime('%s', 'now') AS INTEGER)),
    CHECK ((target = 'header') = (header_name IS NOT NULL))
);

-- Allow and block lists. direction 'sender': entry is an address, '@domain' or an IP/CIDR of
-- the client; 'recipient': an address or '@domain'. scope 'global' (no owner), 'domain'
-- (domain_id) or 'mailbox' (mailbox_id).
CREATE TABLE spam_lists (
    id         INTEGER PRIMARY KEY,
    list       TEXT NOT NULL CHECK (list IN ('allow', 'block')),
    direction  TEXT NOT NULL CHECK (direction IN ('sender', 'recipient')),
    scope      TEXT NOT NULL CHECK (scope IN ('global', 'domain', 'mailbox')),
    domain_id  INTEGER REFERENCES domains (id) ON DELETE CASCADE,
    mailbox_id INTEGER REFERENCES mailboxes (id) ON DELETE CASCADE,
    entry      TEXT NOT NULL CHECK (length(entry) BETWEEN 1 AND 320 AND entry = lower(entry)
                                    AND entry NOT GLOB '*[ "%!]*'),
    entry_kind TEXT NOT NULL CHECK (entry_kind IN ('address', 'domain', 'network')),
    created_at INTEGER NOT NULL DEFAULT (CAST(strftime('%s', 'now') AS INTEGER)),
    CHECK ((scope = 'global' AND domain_id IS NULL AND mailbox_id IS NULL)
           OR (scope = 'domain' AND domain_id IS NOT NULL AND mailbox_id IS NULL)
           OR (scope = 'mailbox' AND domain_id IS NULL AND mailbox_id IS NOT NULL)),
    CHECK (entry_kind <> 'network' OR direction = 'sender'),
    CHECK ((entry_kind = 'domain') = (entry GLOB '@?*'))
);
CREATE UNIQUE INDEX spam_lists_entry
    ON spam_lists (list, direction, scope, ifnull(domain_id, 0), ifnull(mailbox_id, 0), entry);

-- DNS block lists (positive weight) and welcome lists (negative weight), queried with the
-- client's IP reversed. An answer counts when it is inside `match` (a CIDR); 127.255.255.0/24
-- (Spamhaus' "you may not query" codes) never counts.
CREATE TABLE dnsbl_zones (
    id      INTEGER PRIMARY KEY,
    zone    TEXT NOT NULL UNIQUE
            CHECK (length(zone) BETWEEN 3 AND 200 AND zone = lower(zone)
                   AND zone NOT GLOB '*[^a-z0-9._-]*' AND instr(zone, '.') > 0
                   AND zone NOT GLOB '.*' AND zone NOT GLOB '*.' AND instr(zone, '..') = 0),
    list    TEXT NOT NULL CHECK (list IN ('block', 'allow')),
    weight  REAL NOT NULL CHECK (weight BETWEEN -100 AND 100 AND weight <> 0),
    match   TEXT NOT NULL DEFAULT '127.0.0.0/8' CHECK (length(match) BETWEEN 7 AND 18),
    enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    CHECK ((list = 'block') = (weight > 0))
);
)sql";
}

} // namespace cartero::config
