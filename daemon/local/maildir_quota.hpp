// daemon/local/maildir_quota.hpp — Maildir++ quota: the maildirsize file Dovecot's `maildir` backend reads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace cartero::local {

// What a Maildir uses: bytes and messages, summed over INBOX and every Maildir++ folder.
struct maildir_usage {
    std::uint64_t bytes = 0;
    std::uint64_t count = 0;
};

// A parsed maildirsize file (Maildir++ quota, as Courier and Dovecot write it):
//   line 1   limits: "<bytes>S" and/or "<count>C", comma-separated; "0S" = no limit
//            (Dovecot writes "0S" rather than an empty line when there is none)
//   line 2.. "<bytes> <count>" deltas, signed; their sum is the usage
struct maildirsize_file {
    std::uint64_t limit_bytes = 0; // 0 = unlimited
    std::uint64_t limit_count = 0; // 0 = unlimited
    maildir_usage usage;
    std::size_t value_lines = 0;
};

// Dovecot recalculates when the file reaches this size (it reads at most 5120 bytes).
inline constexpr std::size_t maildirsize_max_bytes = 5120;

// Parses the file's contents as Dovecot does: a trailing line without LF is ignored (a writer may
// be appending); nullopt when the file must be recalculated instead: empty, no value line, a
// value line that is not two integers, a NUL byte, a negative total, >= 5120 bytes, or a usage
// over the limit summed from more than one line (drift is not trusted to refuse mail).
std::optional<maildirsize_file> parse_maildirsize(std::string_view content);

// The file Dovecot would write for these limits and totals ("0S" when unlimited).
std::string format_maildirsize(std::uint64_t limit_bytes, std::uint64_t limit_count,
                               maildir_usage usage);

// Sums new/ and cur/ of the Maildir and of each Maildir++ folder (".Name/"), taking each size
// from the ",S=<n>" in the file name (stat() when absent) — what Dovecot's recalculation does.
maildir_usage scan_maildir(const std::filesystem::path& maildir);

// The usage of `maildir` per its maildirsize, recalculated by scanning when the file is missing,
// malformed or too large, or its byte limit differs from `limit_bytes` (when given: the limit
// from config.db is authoritative, as with Dovecot's quota_rule). With `repair`, a
// recalculation rewrites the file atomically (temporary file + rename) so Dovecot sees it too.
// A missing Maildir has no usage. Throws std::filesystem::filesystem_error on I/O errors.
maildir_usage quota_usage(const std::filesystem::path& maildir,
                          std::optional<std::uint64_t> limit_bytes = std::nullopt,
                          bool repair = true);

// Cheap check for carterod's RCPT/DATA stage: would a message of `size` bytes fit?
// Reads the small maildirsize file (scans only when it is missing or broken), never writes.
// quota_bytes = 0 means unlimited. On an I/O error answers true: the delivery re-checks.
bool would_fit(const std::filesystem::path& maildir, std::uint64_t quota_bytes, std::uint64_t size);

// Appends "<bytes> <count>\n" with one O_APPEND write (atomic with Dovecot's own appends).
// Does nothing when maildirsize does not exist (nobody keeps the quota of this Maildir).
// Returns false on an I/O error (the quota is then merely stale until the next recalculation).
bool maildirsize_append(const std::filesystem::path& maildir, std::int64_t bytes, std::int64_t count);

} // namespace cartero::local
