// core/admin_store.hpp — panel admins, API tokens, panel sessions, login throttle rows and TOTP
// secrets in config.db (tables admins, api_tokens, panel_sessions, login_throttle), shared by
// carteroctl (admin add/token/list/remove, init) and cartero-panel.
#pragma once

#include "core/config_db.hpp"
#include "core/parsed.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cartero::admin {

struct admin_row {
    std::int64_t id = 0;
    std::string username;
    bool totp_enabled = false;
    std::int64_t created_at = 0;
    std::int64_t tokens = 0; // API tokens issued and not revoked
};

// A username is 1-254 characters of [A-Za-z0-9._@+-] (an e-mail address fits; provisioning
// uses the customer's admin e-mail). Compared exactly. Never throws.
parsed<std::string> check_username(std::string_view name);

// Every function throws config::config_error (invalid / not_found / conflict / storage) with a
// line a person can act on; each is one transaction, so on error nothing changed.

// Hashes the password (yescrypt, core/password). conflict when the name exists.
admin_row add_admin(config::config_db& db, std::string_view username, std::string_view password);
// Removes the admin, its tokens and its sessions. Refuses to remove the last admin (conflict).
void remove_admin(config::config_db& db, std::string_view username);
std::vector<admin_row> list_admins(config::config_db& db); // by username
std::optional<admin_row> find_admin(config::config_db& db, std::string_view username);
// New password; every session of the admin except `keep_session_id` (when given) ends.
void set_admin_password(config::config_db& db, std::string_view username,
                        std::string_view password, std::string_view keep_session_id = {});
// The admin when the username exists and the password matches. An unknown name costs the same
// hashing time as a known one (no user enumeration by timing). Never throws for bad input.
std::optional<admin_row> verify_login(config::config_db& db, std::string_view username,
                                      std::string_view password);

// API tokens: "ct_" + 43 base64url characters (256 random bits). Only SHA-256(token) is stored;
// the token is returned once. admin_for_token updates last_used_at.
std::string create_token(config::config_db& db, std::string_view username, std::string_view label);
std::optional<admin_row> admin_for_token(config::config_db& db, std::string_view token);
// Revokes every token of the admin; returns how many.
int revoke_tokens(config::config_db& db, std::string_view username);

// Sessions. The id (43 base64url characters) goes into the cookie; the table keeps SHA-256(id).
struct session_row {
    std::int64_t admin_id = 0;
    std::string username;
    bool totp_enabled = false;
    std::string csrf_token;
    std::int64_t created_at = 0, last_seen_at = 0, expires_at = 0;
};
struct new_session {
    std::string id;
    session_row row;
};
new_session create_session(config::config_db& db, std::int64_t admin_id, std::int64_t now,
                           std::int64_t max_age_seconds, std::string_view remote_addr);
// The live session: not past expires_at and seen within idle_seconds; bumps last_seen_at.
// Expired sessions found are deleted (also everyone's expired ones, now and then).
std::optional<session_row> find_session(config::config_db& db, std::string_view id,
                                        std::int64_t now, std::int64_t idle_seconds);
void delete_session(config::config_db& db, std::string_view id);

// Login throttle rows (the policy is in webui/login_throttle). update_throttle runs `change` on
// the row for `key` (a zero row when none) inside one write transaction and stores the result
// (a row that comes back all zero is deleted). Returns the stored row.
struct throttle_row {
    std::int64_t failures = 0, window_start = 0, locked_until = 0;
    bool operator==(const throttle_row&) const = default;
};
throttle_row get_throttle(config::config_db& db, std::string_view key);
throttle_row update_throttle(config::config_db& db, std::string_view key,
                             const std::function<throttle_row(throttle_row)>& change);

// TOTP: the pending or active base32 secret of an admin (nullopt: none). set_totp stores the
// secret (nullopt clears it) and whether it is enabled.
std::optional<std::string> totp_secret(config::config_db& db, std::int64_t admin_id);
void set_totp(config::config_db& db, std::int64_t admin_id, std::optional<std::string> secret,
              bool enabled);

// Helpers also used by the panel: `bytes` random bytes (OpenSSL RAND_bytes) as unpadded
// base64url; SHA-256 as lower-case hex. random_base64url throws std::runtime_error when the OS
// has no randomness.
std::string random_base64url(std::size_t bytes);
std::string sha256_hex(std::string_view data);
// A password for the initial admin: 20 characters of an unambiguous alphabet (~115 bits).
std::string random_password();

} // namespace cartero::admin
