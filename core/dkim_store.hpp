// core/dkim_store.hpp — DKIM keys in config.db (table dkim_keys) and their private key files.
#pragma once

#include "core/config_db.hpp"
#include "core/dkim_key.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cartero::config {

struct dkim_key_row {
    // private_key_path is ready to open: config.db stores it relative to the state dir (the
    // directory holding config.db) and it is resolved against that directory when read; an
    // absolute path in an older row is returned unchanged.
    std::string domain, selector, algorithm, private_key_path, public_key;
    bool active = true;
    std::int64_t created_at = 0;
};

// Generates a key for a local domain, writes <state_dir>/dkim/<domain>/<selector>.key (0600),
// inserts the row (one transaction; the file is removed again if the insert fails). The row
// holds "dkim/<domain>/<selector>.key", relative to state_dir, which must be config.db's
// directory (if it is not, the absolute path is stored).
// The domain is normalised (IDNA A-label); the selector is lower-cased and must then be 1-63
// characters of [a-z0-9-], not starting or ending with '-' (it becomes a DNS label,
// RFC 6376 §3.1). Errors (config_error): unknown domain (invalid/not_found, saying how to add
// it), bad selector (invalid), the selector already exists for the domain (conflict), the key
// file cannot be written or SQLite fails (storage). On error nothing is changed.
dkim_key_row generate_dkim_key(config_db& db, const std::string& state_dir, std::string_view domain,
                               std::string_view selector, dkim::key_algorithm alg);

// Sorted by domain, selector. An empty `domain` lists all; a named one must exist (not_found).
std::vector<dkim_key_row> list_dkim_keys(config_db& db, std::string_view domain = {});

// Marks a key (in)active: carterod signs with active keys only. not_found if there is no such key.
void set_dkim_key_active(config_db& db, std::string_view domain, std::string_view selector,
                         bool active);

// Deletes the row and then the key file (a file already gone is fine). not_found if there is no
// such key. If the file cannot be unlinked after the row is gone, storage is thrown naming it.
void remove_dkim_key(config_db& db, std::string_view domain, std::string_view selector);

} // namespace cartero::config
