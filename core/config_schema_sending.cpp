// core/config_schema_sending.cpp — config.db steps for the sending identity: DKIM keys,
// dedicated IPs and pools, MX hostnames, sender→pool routes, next-hop routes, pacing rules.
#include "core/config_schema.hpp"

namespace cartero::config {

// 2: DKIM keys (RFC 6376). The private key lives in a file readable by carterod alone (0600);
// the row keeps its path and the public half (the p= value of the DNS record).
std::string_view schema_step_dkim() {
    return R"sql(
CREATE TABLE dkim_keys (
    id               INTEGER PRIMARY KEY,
    domain_id        INTEGER NOT NULL REFERENCES domains (id),
    selector         TEXT NOT NULL
                     CHECK (length(selector) BETWEEN 1 AND 63 AND selector = lower(selector)
                            AND selector NOT GLOB '*[^a-z0-9-]*'
                            AND selector NOT GLOB '-*' AND selector NOT GLOB '*-'),
    algorithm        TEXT NOT NULL CHECK (algorithm IN ('rsa-sha256', 'ed25519-sha256')),
    private_key_path TEXT NOT NULL CHECK (length(private_key_path) > 0),
    public_key       TEXT NOT NULL CHECK (length(public_key) > 0
                                          AND public_key NOT GLOB '*[^A-Za-z0-9+/=]*'),
    active           INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at       INTEGER NOT NULL DEFAULT (CAST(strftime('%s', 'now') AS INTEGER)),
    UNIQUE (domain_id, selector)
);
CREATE INDEX dkim_keys_domain ON dkim_keys (domain_id);
)sql";
}

// 3: dedicated IPs, pools, hostnames, routes and pacing (the outbound issue's scheduler and
// the provisioning issue's DNS records both read these).
std::string_view schema_step_sending() {
    return R"sql(
-- A pool is a named set of source IPs that a sender domain or account is routed to.
CREATE TABLE ip_pools (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE
               CHECK (length(name) BETWEEN 1 AND 63 AND name = lower(name)
                      AND name NOT GLOB '*[^a-z0-9_-]*'),
    created_at INTEGER NOT NULL DEFAULT (CAST(strftime('%s', 'now') AS INTEGER))
);

-- The customer's dedicated IPs. hostname is the PTR name (and the EHLO name when sending from
-- this address); pool_id NULL = not used for outbound; mx_preference NOT NULL = this address's
-- hostname is an MX of the domains (the preference in the MX records).
CREATE TABLE ips (
    id            INTEGER PRIMARY KEY,
    address       TEXT NOT NULL UNIQUE CHECK (length(address) BETWEEN 2 AND 45),
    family        INTEGER NOT NULL CHECK (family IN (4, 6)),
    hostname      TEXT NOT NULL
                  CHECK (length(hostname) BETWEEN 3 AND 253 AND hostname = lower(hostname)
                         AND hostname NOT GLOB '*[^a-z0-9.-]*' AND instr(hostname, '.') > 0),
    pool_id       INTEGER REFERENCES ip_pools (id),
    mx_preference INTEGER CHECK (mx_preference IS NULL OR mx_preference BETWEEN 0 AND 65535),
    created_at    INTEGER NOT NULL DEFAULT (CAST(strftime('%s', 'now') AS INTEGER))
);
CREATE INDEX ips_pool ON ips (pool_id);

-- Which pool a sender uses: an address ("user@domain") or a whole domain ("domain"). The most
-- specific match wins; without one, the pool named "default" (if any), else any outbound IP.
CREATE TABLE sender_routes (
    id      INTEGER PRIMARY KEY,
    sender  TEXT NOT NULL UNIQUE CHECK (length(sender) > 0 AND sender = lower(sender)),
    pool_id INTEGER NOT NULL REFERENCES ip_pools (id) ON DELETE CASCADE
);

-- Next hops instead of MX lookup: destination "*" (everything: the relayhost) or a domain.
CREATE TABLE transport_routes (
    id              INTEGER PRIMARY KEY,
    destination     TEXT NOT NULL UNIQUE CHECK (length(destination) > 0
                                                AND destination = lower(destination)),
    next_hop        TEXT NOT NULL CHECK (length(next_hop) > 0),
    port            INTEGER NOT NULL DEFAULT 25 CHECK (port BETWEEN 1 AND 65535),
    require_tls     INTEGER NOT NULL DEFAULT 0 CHECK (require_tls IN (0, 1)),
    auth_username   TEXT,
    auth_secret_path TEXT, -- a 0600 file with the password, like DKIM keys: never in the db
    CHECK ((auth_username IS NULL) = (auth_secret_path IS NULL))
);

-- Destination pacing: pattern is a domain, "*.domain" or an MX host suffix ("mx:*.google.com");
-- the most specific pattern wins; NULL limits fall back to the defaults.
CREATE TABLE pacing_rules (
    id                      INTEGER PRIMARY KEY,
    pattern                 TEXT NOT NULL UNIQUE CHECK (length(pattern) > 0
                                                        AND pattern = lower(pattern)),
    max_connections         INTEGER CHECK (max_connections IS NULL OR max_connections >= 1),
    messages_per_minute     INTEGER CHECK (messages_per_minute IS NULL
                                           OR messages_per_minute >= 1),
    messages_per_connection INTEGER CHECK (messages_per_connection IS NULL
                                           OR messages_per_connection >= 1),
    note                    TEXT NOT NULL DEFAULT ''
);
)sql";
}

} // namespace cartero::config
