// daemon/bounce/classifier.hpp — sorts a failure reply into a bounce class (DESIGN.md flow 3).
#pragma once

#include "core/reply.hpp"

#include <optional>
#include <string_view>

namespace cartero::bounce {

enum class bounce_class {
    invalid_recipient,     // no such mailbox/domain-user, disabled account
    mailbox_full,          // over quota, out of storage
    spam_or_policy_block,  // content/reputation/DNSBL/DMARC/relay/rate-policy refusals
    dns_failure,           // domain or MX does not resolve, unroutable
    tls_failure,           // TLS required, refused or failed
    timeout_or_connection, // no answer, lost connection, timed out, expired in the queue
    other,
};

// The name stored in queue.db (`bounces.bounce_class`, `recipients.bounce_class`):
// "invalid-recipient", "mailbox-full", … ; parse_class() is its inverse.
std::string_view to_string(bounce_class c);
std::optional<bounce_class> parse_class(std::string_view name);

struct classification {
    bounce_class cls = bounce_class::other;
    bool hard = false; // 5xx (permanent); soft = 4xx. Only hard invalid-recipient suppresses.
};

// Classifies a failure from the basic code (0 when unknown, e.g. a DSN Status only), the RFC
// 3463 enhanced code ("" when absent) and the reply text. Order (first match wins):
//   1. specific enhanced codes (x.1.1 invalid recipient, x.2.2 mailbox full, x.4.4 unroutable…);
//   2. texts, for vague codes (x.0.0, x.y.0, none) and a few known vendor habits
//      ("550 5.4.1 Recipient address rejected" from Microsoft means no such user);
//   3. the enhanced code's subject (x.7.* policy, x.4.* connection) and the basic code.
// hard follows the enhanced class when present, else the basic code's first digit.
// Matching is on ASCII-lower-cased text; nothing here allocates per rule.
classification classify(int code, std::string_view enhanced, std::string_view text);
classification classify(const reply& r); // r.lines joined

} // namespace cartero::bounce
