// core/config_db.hpp — the config.db store: schema migrations, tenant operations, snapshot loads.
#pragma once

#include "core/config_snapshot.hpp"

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

struct sqlite3;

namespace cartero::config {

// Every failure of config_db is a config_error. `what()` is one line a person can act on
// ("domain example.org does not exist; add it with: carteroctl domain add example.org").
// When one is thrown by an operation, the database is unchanged (each operation is one
// transaction).
class config_error : public std::runtime_error {
public:
    enum class kind {
        invalid,   // bad input: a name, address, size or value that is refused
        not_found, // the domain, mailbox, forwarder or setting named does not exist
        conflict,  // already exists, is in use, or would shadow something
        storage,   // SQLite failed (I/O, locked past busy_timeout, corrupt, newer schema)
    };
    config_error(kind k, const std::string& what) : std::runtime_error(what), kind_(k) {}
    kind which() const { return kind_; }

private:
    kind kind_;
};

struct domain_row {
    std::string name; // A-label
    std::int64_t mailboxes = 0;
    std::int64_t forwarders = 0;
    std::int64_t created_at = 0; // Unix seconds
};

struct mailbox_row {
    std::string address;
    std::uint64_t quota_bytes = 0; // 0 = unlimited
    bool enabled = true;
    std::int64_t created_at = 0;
};

struct forwarder_row {
    std::string source;                    // "user@domain" or "@domain" (catch-all)
    std::vector<std::string> destinations; // in the order they were added
};

// A settings key the tenant store knows, with its one-line doc. Values are validated per key.
struct setting_info {
    std::string_view key;
    std::string_view doc;
};

// One connection to config.db. Not thread-safe: one config_db per thread (SQLite WAL allows
// many readers and one writer across processes; writers wait up to busy_timeout = 5 s).
// Opening applies pending migrations (PRAGMA user_version), each in its own transaction; a
// database whose version is newer than this program knows is refused.
class config_db {
public:
    // Opens `path`; creates it only when `create_if_missing`. Sets journal_mode=WAL,
    // foreign_keys=ON, busy_timeout=5000. Throws config_error.
    config_db(const std::string& path, bool create_if_missing);
    ~config_db();
    config_db(config_db&& other) noexcept;
    config_db& operator=(config_db&& other) noexcept;
    config_db(const config_db&) = delete;
    config_db& operator=(const config_db&) = delete;

    static config_db open(const std::string& path, bool create_if_missing) {
        return config_db(path, create_if_missing);
    }

    // The schema version this program migrates to, and the one the database is at.
    static int latest_schema_version();
    int schema_version();

    // Domains. add_domain normalises (IDNA) and returns the stored name. remove_domain
    // refuses while the domain has mailboxes or forwarders and says how many.
    std::string add_domain(std::string_view name);
    void remove_domain(std::string_view name);
    std::vector<domain_row> list_domains();

    // Mailboxes. The domain must exist; the address may not be a forwarder's source. The
    // password is hashed here (yescrypt). quota_bytes 0 = unlimited. Returns the address.
    std::string add_mailbox(std::string_view address, std::string_view password,
                            std::uint64_t quota_bytes);
    void set_password(std::string_view address, std::string_view password);
    void set_quota(std::string_view address, std::uint64_t quota_bytes);
    void set_enabled(std::string_view address, bool enabled);
    // Sorted by domain, then address. An empty `domain` lists all; a named one must exist.
    std::vector<mailbox_row> list_mailboxes(std::string_view domain = {});
    // Removes the mailbox (and its autoresponder); its Maildir on disk is left alone.
    void remove_mailbox(std::string_view address);

    // Forwarders. `source` is an address or "@domain" (catch-all for addresses of that domain
    // without a mailbox or forwarder); its domain must exist and it may not be a mailbox.
    // Destinations are one or more addresses, local or remote (normalised, duplicates folded);
    // a destination equal to the source is refused. Adding to an existing source appends the
    // new destinations (ones already present are ignored). Returns the forwarder as stored.
    forwarder_row add_forwarder(std::string_view source,
                                const std::vector<std::string>& destinations);
    std::vector<forwarder_row> list_forwarders(std::string_view domain = {});
    void remove_forwarder(std::string_view source);

    // Tenant settings (table `settings`): only keys in known_settings(), values validated per
    // key ("postmaster": an address or empty; "hostname": a domain name). get returns nullopt
    // when the key is not set.
    static const std::vector<setting_info>& known_settings();
    std::optional<std::string> get_setting(std::string_view key);
    void set_setting(std::string_view key, std::string_view value);

    // Everything carterod needs, read in one read transaction (a consistent view), with
    // snapshot.data_version taken inside it.
    snapshot load_snapshot();
    // PRAGMA data_version of this connection: changes when another connection commits.
    // Cheap enough to poll every second.
    std::int64_t data_version();

    // The raw connection, for callers that need a statement this class does not offer.
    sqlite3* handle() { return db_; }

private:
    sqlite3* db_ = nullptr;
    void migrate();
};

} // namespace cartero::config
