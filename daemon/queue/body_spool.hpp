// daemon/queue/body_spool.hpp — large message bodies as files beside queue.db (spool/<queue id>).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct sqlite3;

namespace cartero::queue {

// Why a spool at all: a 100 KB body in SQLite is written as ~25 WAL frames (two pwrite(2)s
// each), read back and written again by the checkpoint, and its pages freed on delete — about
// half of carterod's CPU time at 100 KB (perf, bench/relay-bench-outbound). As a file it is one
// write(2), made durable with the rest of its group by one syncfs(2), and one unlink(2).
// Small bodies stay in queue.db, where the group commit makes them cheapest.
inline constexpr std::size_t default_spool_threshold = 64 * 1024;

// The directory <dir of queue.db>/spool with one file per spooled message, named by its queue
// id, holding the body exactly as messages.body would (Received prepended, CRLF lines).
// Durability contract (queue_store keeps it): a file is written before its message is handed
// to the writer, synced (sync()) before the COMMIT that makes its row visible, and unlinked only
// once the deletion of its row is durable. Leftovers of a crash (a file without a row) are
// removed at start (sweep()).
//
// Files are reused, not unlinked: remove() moves a file to <dir>-reuse/ (while that pool holds
// fewer than reuse_max_files files and reuse_max_bytes bytes, and the file is at most
// reuse_max_file_bytes), and the next write() renames one from there to its new name and
// overwrites it. On ext4 an unlink frees the inode and its blocks (truncate, evict, bitmaps) and
// the next create allocates them again — with no journal, scanning for an inode not recently
// deleted. Reuse skips all of that: per 100 KB message, bench/spool_bench measured 45–60 µs of
// machine CPU against 145–160 µs for create + unlink, and a quarter of the wall time.
// The pool lives in memory; <dir>-reuse/ is emptied at start. A reader that opened a file just
// before it was moved and overwritten must not read the new message: read() checks after
// reading that the name still refers to the file it read (the move comes before the overwrite).
class body_spool {
public:
    // Creates the directory (0700) when missing and makes its name durable. Throws
    // std::runtime_error with a readable message.
    // Also creates (or empties) <dir>-reuse.
    explicit body_spool(std::filesystem::path dir);
    ~body_spool();
    body_spool(const body_spool&) = delete;
    body_spool& operator=(const body_spool&) = delete;

    const std::filesystem::path& dir() const { return dir_; }

    // Writes dir/<queue_id> (a reused or a new file, 0600); not durable before sync(). Throws
    // std::runtime_error (the file is removed again on failure).
    void write(const std::string& queue_id, std::string_view body) const;
    // syncfs(2) of the spool's filesystem: every file written before the call is durable, data
    // and directory entry. Throws std::runtime_error (e.g. EIO from an earlier writeback).
    void sync() const;
    // The file's content; nullopt when there is no such file. Throws std::runtime_error when it
    // exists but cannot be read. Safe on any thread.
    std::optional<std::string> read(const std::string& queue_id) const;
    // Removes dir/<queue_id> (into the reuse pool, or unlinked); a missing file is not an
    // error. Returns false on other errors. Call only once no row can need the file again.
    bool remove(const std::string& queue_id) const noexcept;
    // The queue ids that have a file (names that are not queue ids are left alone).
    std::vector<std::string> list() const;

    static constexpr std::size_t reuse_max_files = 1024;
    static constexpr std::size_t reuse_max_bytes = 64u << 20;
    static constexpr std::size_t reuse_max_file_bytes = 1u << 20;
    // Files in the reuse pool now (tests).
    std::size_t reusable_files() const;

private:
    struct reusable {
        std::string name; // in reuse_dir_
        std::size_t size;
    };
    // Takes a pooled file and renames it to dir/<id>; nullopt when the pool is empty or the
    // rename failed (the caller creates a new file then).
    std::optional<std::size_t> take_reusable(const std::string& id) const;

    std::filesystem::path dir_, reuse_dir_;
    int dir_fd_ = -1, reuse_fd_ = -1;
    mutable std::mutex reuse_mu_;
    mutable std::vector<reusable> reuse_;
    mutable std::size_t reuse_bytes_ = 0;
    mutable std::uint64_t reuse_seq_ = 0;
};

// The spool directory of the queue.db that `db` has open.
std::filesystem::path spool_dir_of(sqlite3* db);

// Reads the spooled body of queue_id (at most max_bytes of it) for any reader of queue.db.
// Throws std::runtime_error when the file is missing or unreadable: a spooled message without
// its file must never be sent or shown as an empty message.
std::string read_spooled_body(sqlite3* db, const std::string& queue_id,
                              std::size_t max_bytes = static_cast<std::size_t>(-1));

// A queue id is used as a file name only if it is [0-9A-Za-z]{1,64} (new_queue_id's alphabet).
bool spool_name_ok(std::string_view queue_id);

} // namespace cartero::queue
