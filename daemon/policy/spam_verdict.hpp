// daemon/policy/spam_verdict.hpp — from the message-wide score to what happens per recipient:
// allow/block lists (global, domain, mailbox), the recipient domain's thresholds and DMARC
// actions; then the X-Spam-* fields, the Junk folder and the 550 for the whole message.
#pragma once

#include "core/reply.hpp"
#include "daemon/policy/spam_scorer.hpp"
#include "daemon/queue/queue_store.hpp"

#include <optional>
#include <string>
#include <vector>

namespace cartero::policy {

// Maildir++ subfolder for spam (Dovecot shows ".Junk" as "Junk"); a local recipient filed
// there has maildir "<mailbox maildir>/.Junk" (daemon/local keeps the quota at the root).
inline constexpr std::string_view junk_folder = ".Junk";

enum class spam_action { deliver, junk, reject };
std::string_view to_string(spam_action a);

struct recipient_verdict {
    bool scored = true;             // false: spam scoring is off for this domain (no X-Spam-*)
    std::vector<score_item> items;  // message items + this recipient's list item
    double score = 0;
    bool flag = false;              // X-Spam-Flag: YES
    spam_action action = spam_action::deliver;
    bool by_dmarc = false;          // the action comes from the DMARC policy, not the score
    config::spam_settings_effective settings;
};

// The best list entry for this recipient, as an item (ALLOWLIST or BLOCKLIST), or nullopt.
// Most specific wins: mailbox scope over domain over global; then address over network over
// @domain; then block over allow. Allow entries for addresses/@domains need the identity to be
// authenticated: MAIL FROM with SPF pass, or the From header with DMARC pass (a forged sender
// cannot allowlist itself); block entries match either identity as written.
std::optional<score_item> list_item(const spam_request& rq, const spam_message& msg,
                                    const config::filter_snapshot& f, const queue::recipient& r);

recipient_verdict judge_recipient(const spam_request& rq, const spam_message& msg,
                                  const std::vector<score_item>& message_items,
                                  const config::snapshot& cfg, const queue::recipient& r);

// X-Spam-Flag, X-Spam-Score, X-Spam-Report (folded, CRLF-terminated), "" when not scored.
std::string spam_fields(const recipient_verdict& v);

// The recipients split into groups that get the same fields; junk recipients have their
// maildir moved to the Junk folder. `rejection` is set when every recipient's action is
// reject (a 550 5.7.1 that says why); a reject among other actions files into Junk instead.
struct spam_group {
    std::string fields;
    std::vector<queue::recipient> rcpts;
};
struct spam_decision {
    std::optional<reply> rejection;
    std::vector<spam_group> groups; // every target exactly once (empty when rejected)
    double score = 0;               // of the first recipient, for the log
    std::string action;             // deliver|junk|reject|mixed, for the log
    std::string items;              // "NAME=score,...", for the log
};
spam_decision decide(const spam_request& rq, const spam_message& msg,
                     const std::vector<score_item>& message_items, const config::snapshot& cfg,
                     const std::vector<queue::recipient>& targets);

} // namespace cartero::policy
