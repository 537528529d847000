// core/config_schema.cpp — config.db schema as numbered migrations (PRAGMA user_version).
#include "core/config_schema.hpp"

namespace cartero::config {

// Rules the C++ checks first (with better messages) are repeated here as CHECKs and triggers so
// that writers bypassing it (sqlite3 CLI, Dovecot tools, a future panel bug) cannot store what
// carterod would misread. Never edit a step once released: append a new one.
const std::vector<std::string_view>& schema_migrations() {
    static const std::vector<std::string_view> steps = {
        // 1: tenant tables.
        R"sql(
CREATE TABLE domains (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE
                CHECK (length(name) BETWEEN 3 AND 253 AND name = lower(name)
                       AND name NOT GLOB '*[^a-z0-9.-]*' AND instr(name, '.') > 0
                       AND name NOT GLOB '.*' AND name NOT GLOB '*.' AND instr(name, '..') = 0),
    created_at  INTEGER NOT NULL DEFAULT (CAST(strftime('%s', 'now') AS INTEGER))
);

CREATE TABLE mailboxes (
    id            INTEGER PRIMARY KEY,
    domain_id     INTEGER NOT NULL REFERENCES domains (id),
    local_part    TEXT NOT NULL
                  CHECK (length(CAST(local_part AS BLOB)) BETWEEN 1 AND 64
                         AND local_part = lower(local_part)
                         AND local_part NOT GLOB '*[@%! "]*'),
    address       TEXT NOT NULL UNIQUE CHECK (address = lower(address)),
    password_hash TEXT NOT NULL CHECK (password_hash GLOB '{*}?*'),
    quota_bytes   INTEGER NOT NULL DEFAULT 0
                  CHECK (typeof(quota_bytes) = 'integer' AND quota_bytes >= 0),
    enabled       INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    created_at    INTEGER NOT NULL DEFAULT (CAST(strftime('%s', 'now') AS INTEGER))
);
CREATE INDEX mailboxes_domain ON mailboxes (domain_id);

CREATE TABLE forwarders (
    id          INTEGER PRIMARY KEY,
    domain_id   INTEGER NOT NULL REFERENCES domains (id),
    source      TEXT NOT NULL UNIQUE
                CHECK (source = lower(source) AND instr(source, '@') > 0
                       AND source NOT GLOB '*[%! "]*'),
    created_at  INTEGER NOT NULL DEFAULT (CAST(strftime('%s', 'now') AS INTEGER))
);
CREATE INDEX forwarders_domain ON forwarders (domain_id);

CREATE TABLE forwarder_destinations (
    forwarder_id INTEGER NOT NULL REFERENCES forwarders (id) ON DELETE CASCADE,
    destination  TEXT NOT NULL
                 CHECK (destination = lower(destination) AND instr(destination, '@') > 1
                        AND destination NOT GLOB '*[%! "]*'),
    UNIQUE (forwarder_id, destination)
);

CREATE TABLE autoresponders (
    id            INTEGER PRIMARY KEY,
    mailbox_id    INTEGER NOT NULL UNIQUE REFERENCES mailboxes (id) ON DELETE CASCADE,
    enabled       INTEGER NOT NULL DEFAULT 0 CHECK (enabled IN (0, 1)),
    subject       TEXT NOT NULL DEFAULT '',
    body_text     TEXT NOT NULL DEFAULT '',
    body_html     TEXT,
    start_at      INTEGER,
    end_at        INTEGER,
    interval_days INTEGER NOT NULL DEFAULT 7 CHECK (interval_days >= 1),
    created_at    INTEGER NOT NULL DEFAULT (CAST(strftime('%s', 'now') AS INTEGER)),
    CHECK (start_at IS NULL OR end_at IS NULL OR start_at <= end_at)
);

CREATE TABLE admins (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE CHECK (length(username) BETWEEN 1 AND 254),
    password_hash TEXT NOT NULL CHECK (password_hash GLOB '{*}?*'),
    created_at    INTEGER NOT NULL DEFAULT (CAST(strftime('%s', 'now') AS INTEGER))
);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY CHECK (length(key) > 0),
    value TEXT NOT NULL
);

-- A mailbox's address is its local part at its domain's name.
CREATE TRIGGER mailboxes_address_insert BEFORE INSERT ON mailboxes
WHEN NEW.address IS NOT NEW.local_part || '@' || (SELECT name FROM domains WHERE id = NEW.domain_id)
BEGIN SELECT RAISE(ABORT, 'mailbox address must be local_part@<name of domain_id>'); END;
CREATE TRIGGER mailboxes_address_update BEFORE UPDATE OF address, local_part, domain_id ON mailboxes
WHEN NEW.address IS NOT NEW.local_part || '@' || (SELECT name FROM domains WHERE id = NEW.domain_id)
BEGIN SELECT RAISE(ABORT, 'mailbox address must be local_part@<name of domain_id>'); END;

-- A forwarder's source is in its domain: "user@<name>" or "@<name>".
CREATE TRIGGER forwarders_domain_insert BEFORE INSERT ON forwarders
WHEN substr(NEW.source, instr(NEW.source, '@') + 1) IS NOT (SELECT name FROM domains WHERE id = NEW.domain_id)
BEGIN SELECT RAISE(ABORT, 'forwarder source must be in the domain named by domain_id'); END;
CREATE TRIGGER forwarders_domain_update BEFORE UPDATE OF source, domain_id ON forwarders
WHEN substr(NEW.source, instr(NEW.source, '@') + 1) IS NOT (SELECT name FROM domains WHERE id = NEW.domain_id)
BEGIN SELECT RAISE(ABORT, 'forwarder source must be in the domain named by domain_id'); END;

-- A forwarder may not shadow a mailbox, nor a mailbox take a forwarder's address.
CREATE TRIGGER forwarders_no_shadow_insert BEFORE INSERT ON forwarders
WHEN EXISTS (SELECT 1 FROM mailboxes WHERE address = NEW.source)
BEGIN SELECT RAISE(ABORT, 'a mailbox has this address; a forwarder may not shadow it (remove the mailbox first)'); END;
CREATE TRIGGER forwarders_no_shadow_update BEFORE UPDATE OF source ON forwarders
WHEN EXISTS (SELECT 1 FROM mailboxes WHERE address = NEW.source)
BEGIN SELECT RAISE(ABORT, 'a mailbox has this address; a forwarder may not shadow it (remove the mailbox first)'); END;
CREATE TRIGGER mailboxes_no_shadow_insert BEFORE INSERT ON mailboxes
WHEN EXISTS (SELECT 1 FROM forwarders WHERE source = NEW.address)
BEGIN SELECT RAISE(ABORT, 'a forwarder has this address; remove the forwarder before adding a mailbox'); END;
CREATE TRIGGER mailboxes_no_shadow_update BEFORE UPDATE OF address ON mailboxes
WHEN EXISTS (SELECT 1 FROM forwarders WHERE source = NEW.address)
BEGIN SELECT RAISE(ABORT, 'a forwarder has this address; remove the forwarder before adding a mailbox'); END;

-- A forwarder never forwards to its own source (a loop on the first hop).
CREATE TRIGGER forwarder_destinations_no_self BEFORE INSERT ON forwarder_destinations
WHEN NEW.destination = (SELECT source FROM forwarders WHERE id = NEW.forwarder_id)
BEGIN SELECT RAISE(ABORT, 'a forwarder may not forward to its own address'); END;
CREATE TRIGGER forwarder_destinations_no_self_update BEFORE UPDATE ON forwarder_destinations
WHEN NEW.destination = (SELECT source FROM forwarders WHERE id = NEW.forwarder_id)
BEGIN SELECT RAISE(ABORT, 'a forwarder may not forward to its own address'); END;
)sql",
        schema_step_dkim(),    // 2
        schema_step_sending(), // 3
        schema_step_filtering(), // 4 (core/config_schema_filtering.cpp)
        schema_step_autoreply(), // 5 (core/config_schema_autoreply.cpp)
        schema_step_admin(),     // 6 (core/config_schema_admin.cpp)
    };
    return steps;
}

} // namespace cartero::config
