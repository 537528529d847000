// daemon/local/maildir_writer.hpp — writes one message into a Maildir, once, also across a crash.
#pragma once

#include "core/reply.hpp"

#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace cartero::local {

struct delivery_request {
    std::string_view queue_id;
    std::int64_t row_id = 0;       // recipients.id: with queue_id, names the file
    std::int64_t received_at = 0;  // unix seconds
    std::string_view mail_from;    // "" for the null sender: Return-Path: <>
    std::string_view deliver_to;
    std::filesystem::path maildir; // the Maildir's root (INBOX)
    std::uint64_t quota_bytes = 0; // 0 = unlimited
    std::string_view body;         // CRLF, as stored in the queue
    // true when this row may have been written before (recovery after a restart, a retry):
    // then cur/ is searched too, for a copy Dovecot has already seen and renamed. A first
    // attempt straight from the commit only checks new/.
    bool redelivery = true;
};

enum class delivery_status {
    delivered,  // written now (durable after flush())
    duplicate,  // already in new/ or cur/: not written again (durable after flush())
    over_quota, // not written: 552 5.2.2
    failed,     // not written: a temporary error (451 4.3.0 ...), try again later
};

struct delivery_outcome {
    delivery_status status = delivery_status::failed;
    cartero::reply reply;
    std::string file_name;  // in new/ (or the name found in new/ or cur/)
    std::uint64_t size = 0; // bytes in the file
};

// Delivery per https://cr.yp.to/proto/maildir.html: write tmp/<name>, make it durable, rename
// to new/<name>. deliver() only writes tmp/; flush() makes a whole batch durable with one
// syncfs(2) per filesystem (group commit: one sync instead of one fsync per file), then
// renames each file into new/ and fsyncs each new/ once. The name is a function of (received_at, queue id, row id, host, size), so a
// redelivery after a crash finds its earlier copy (new/<name> or cur/<name>:2,<flags>) and
// skips it: a message is written to a mailbox once. Maildir++ quota is checked against
// maildirsize before writing and "<size> 1" is appended after.
// The rename is made durable by fsync'ing new/; deliver() only records the directory and
// flush() fsyncs each one once, so a batch of deliveries shares the directory syncs.
// Nothing is durable — nothing may be marked delivered — before flush() has returned it as ok.
// Not thread-safe: one writer per thread (the agent gives each Maildir to one thread).
// Maildir++ folders (".Junk", daemon/policy/spam_verdict.hpp) are "<mailbox>/.<name>": a
// path whose last component starts with '.' (local parts never do: the dot-string grammar of
// RFC 5321 §4.1.2 forbids it) is a folder, and its mailbox root keeps the one maildirsize
// (quota counts every folder) and decides which worker writes it. Other paths are roots.
std::filesystem::path maildir_root(const std::filesystem::path& maildir);
bool is_maildir_folder(const std::filesystem::path& maildir);

class maildir_writer {
public:
    explicit maildir_writer(std::string hostname);

    delivery_outcome deliver(const delivery_request& r);

    // syncfs, rename into new/, fsync every new/ touched since the last flush; returns the
    // Maildirs where any step failed (their deliveries of this batch count as not done).
    std::vector<std::filesystem::path> flush();

    // "<received_at>.<queue_id>_<row_id>.<host>,S=<size>" with '/' and ':' in the host written
    // as \057 and \072 (the Maildir spec's escapes).
    static std::string file_name(std::int64_t received_at, std::string_view queue_id,
                                 std::int64_t row_id, std::string_view hostname, std::uint64_t size);

private:
    // Creates <maildir>/{tmp,new,cur} (0700, parents too) and makes the new names durable.
    void ensure_dirs(const std::filesystem::path& maildir);
    bool exists(const std::filesystem::path& maildir, const std::string& name, bool search_cur,
                std::string& found) const;

    std::string hostname_;
    std::set<std::filesystem::path> ready_; // Maildirs known to have tmp/new/cur
    std::set<std::filesystem::path> dirty_; // new/ dirs awaiting fsync
    struct staged_file {
        std::filesystem::path tmp, final, maildir;
        std::uint64_t size = 0;
    };
    std::vector<staged_file> staged_; // written to tmp/, awaiting syncfs + rename in flush()
    std::map<std::filesystem::path, std::uint64_t> staged_bytes_; // per Maildir, for quota
};

} // namespace cartero::local
