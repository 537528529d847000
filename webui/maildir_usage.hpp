// webui/maildir_usage.hpp — a mailbox's quota usage as the Maildir++ maildirsize file says
// (carterod and Dovecot keep it up to date; the panel only reads it).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace cartero::webui {

struct maildir_usage {
    std::int64_t bytes = 0, messages = 0;
};

// Sums the "<bytes> <count>" lines after the first (the quota definition) of
// <mail_root>/<domain>/<local>/maildirsize. A missing or unreadable file, or a name that could
// leave mail_root, reads as zero usage; malformed lines are skipped.
maildir_usage read_maildir_usage(const std::string& mail_root, std::string_view domain,
                                 std::string_view local_part);
// The same over the file's text (exposed for tests).
maildir_usage parse_maildirsize_usage(std::string_view text);

} // namespace cartero::webui
