// core/queue_schema.hpp — queue.db schema and its versioned migrations (PRAGMA user_version).
#pragma once

struct sqlite3;

namespace cartero::queue_db {

// The schema version this build writes. queue.db files with a higher user_version were written
// by a newer carterod and are refused (a downgrade must not scribble over a newer layout).
inline constexpr int schema_version = 5;

// Brings `db` up to schema_version. Each step runs in its own IMMEDIATE transaction together
// with its `PRAGMA user_version = N`, so a crash or an error leaves the database at the previous
// version, never half-migrated. Idempotent: a current database is left untouched.
// Throws std::runtime_error("queue.db: ...") naming the step and SQLite's message on failure.
// Callers: carteroctl `init` (creates queue.db) and queue::store::open (carterod).
void migrate(sqlite3* db);
// The same, stopping at `target` (≤ schema_version): tests build older layouts with it to check
// the upgrade path with rows in place.
void migrate_to(sqlite3* db, int target);

} // namespace cartero::queue_db
