// core/config_schema_admin.cpp — config.db step 6: panel admins' second factor, API tokens,
// server-side panel sessions and login throttling (core/admin_store.cpp reads and writes them).
#include "core/config_schema.hpp"

namespace cartero::config {

// Secrets are stored hashed where a hash suffices: API tokens and session ids are long random
// strings, so SHA-256 of them (hex) is enough and a leaked config.db grants no access. The TOTP
// secret must be readable to verify codes, so it is kept as is (config.db is not world-readable).
std::string_view schema_step_admin() {
    return R"sql(
ALTER TABLE admins ADD COLUMN totp_secret TEXT
    CHECK (totp_secret IS NULL OR (length(totp_secret) BETWEEN 16 AND 128
                                   AND totp_secret NOT GLOB '*[^A-Z2-7]*'));
ALTER TABLE admins ADD COLUMN totp_enabled INTEGER NOT NULL DEFAULT 0
    CHECK (totp_enabled IN (0, 1));

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    admin_id     INTEGER NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    token_hash   TEXT NOT NULL UNIQUE
                 CHECK (length(token_hash) = 64 AND token_hash NOT GLOB '*[^0-9a-f]*'),
    label        TEXT NOT NULL DEFAULT '' CHECK (length(label) <= 100),
    created_at   INTEGER NOT NULL DEFAULT (CAST(strftime('%s', 'now') AS INTEGER)),
    last_used_at INTEGER
);
CREATE INDEX api_tokens_admin ON api_tokens (admin_id);

CREATE TABLE panel_sessions (
    id_hash      TEXT PRIMARY KEY
                 CHECK (length(id_hash) = 64 AND id_hash NOT GLOB '*[^0-9a-f]*'),
    admin_id     INTEGER NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    csrf_token   TEXT NOT NULL CHECK (length(csrf_token) >= 32),
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    remote_addr  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX panel_sessions_admin ON panel_sessions (admin_id);

-- Failed logins per key: "ip:<address>" or "user:<username>" (also for unknown usernames, so
-- guessing names is throttled the same way). locked_until > now = refuse with 429.
CREATE TABLE login_throttle (
    key           TEXT PRIMARY KEY CHECK (length(key) BETWEEN 3 AND 300),
    failures      INTEGER NOT NULL CHECK (failures >= 0),
    window_start  INTEGER NOT NULL,
    locked_until  INTEGER NOT NULL DEFAULT 0
);
)sql";
}

} // namespace cartero::config
