// core/autoreply_store.hpp — config.db access for mailbox autoresponders (schema step 5), shared
// by carteroctl, the panel and carterod's autoresponder (daemon/local/autoresponder).
#pragma once

#include "core/config_db.hpp"
#include "core/parsed.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cartero::config {

// One mailbox's autoresponder. Times are Unix seconds; nullopt = open on that side.
struct autoreply_row {
    std::string mailbox;                  // normalised address of an existing mailbox
    bool enabled = true;
    std::string subject;                  // "" = "Auto: " + the original subject (RFC 3834 §3.1.5)
    std::string body_text;                // UTF-8, 1 byte to 64 KiB; LF or CRLF line ends
    std::optional<std::string> body_html; // UTF-8, ≤ 256 KiB; sent as multipart/alternative
    std::optional<std::int64_t> start_at; // replies from this instant on
    std::optional<std::int64_t> end_at;   // replies until this instant (inclusive)
    int interval_days = 7;                // 1–365: at most one reply per sender per interval
    std::int64_t updated_at = 0;          // set by the store

    // enabled and now within start_at..end_at.
    bool active_at(std::int64_t now) const {
        return enabled && (!start_at || now >= *start_at) && (!end_at || now <= *end_at);
    }
};

// Every check the schema makes, with a message a person can act on ("" = valid): subject one
// line of ≤ 900 bytes of valid UTF-8, body 1 byte..64 KiB of valid UTF-8 (HTML ≤ 256 KiB),
// start ≤ end, interval 1–365. The mailbox is not looked up here.
std::string validate_autoreply(const autoreply_row& row);

// Creates or replaces the mailbox's autoresponder (one per mailbox). Throws config_error:
// invalid (validate_autoreply's message), not_found (no such mailbox). Returns the row as stored.
autoreply_row set_autoreply(config_db& db, const autoreply_row& row);
// Removes it; not_found when the mailbox has none (or does not exist).
void clear_autoreply(config_db& db, std::string_view mailbox);
std::optional<autoreply_row> get_autoreply(config_db& db, std::string_view mailbox);
// Sorted by mailbox address. `only_enabled`: what carterod loads.
std::vector<autoreply_row> list_autoreplies(config_db& db, bool only_enabled = false);

// A date or time as the CLI and the panel take it, in UTC: "2026-12-24" (00:00:00, or 23:59:59
// when `end_of_day`), "2026-12-24T18:30" or "2026-12-24 18:30[:ss]", or Unix seconds
// ("1798070400"). Anything else is refused with what to write.
parsed<std::int64_t> parse_when(std::string_view text, bool end_of_day);

} // namespace cartero::config
