// daemon/bounce/classifier.cpp — the rule tables behind classify(): codes first, then texts.
#include "daemon/bounce/classifier.hpp"

#include <array>
#include <string>

namespace cartero::bounce {

namespace {

using bc = bounce_class;

struct name_row {
    bc cls;
    std::string_view name;
};
constexpr std::array<name_row, 7> names{{
    {bc::invalid_recipient, "invalid-recipient"},
    {bc::mailbox_full, "mailbox-full"},
    {bc::spam_or_policy_block, "spam-or-policy-block"},
    {bc::dns_failure, "dns-failure"},
    {bc::tls_failure, "tls-failure"},
    {bc::timeout_or_connection, "timeout-or-connection"},
    {bc::other, "other"},
}};

// An enhanced code split into its three numbers (RFC 3463 §2); -1 when absent.
struct status_code {
    int cls = -1, subject = -1, detail = -1;
};

status_code parse_status(std::string_view s) {
    status_code st;
    int* parts[3] = {&st.cls, &st.subject, &st.detail};
    std::size_t i = 0;
    for (int k = 0; k < 3; ++k) {
        int v = 0, n = 0;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9' && n < 3) v = v * 10 + (s[i++] - '0'), ++n;
        if (n == 0) return {};
        *parts[k] = v;
        if (k < 2) {
            if (i >= s.size() || s[i] != '.') return {};
            ++i;
        }
    }
    if (st.cls != 2 && st.cls != 4 && st.cls != 5) return {};
    return st;
}

// Rule 1: specific enhanced codes (RFC 3463 §3, RFC 5248, RFC 7505). subject.detail; the class
// does not matter here (4.2.2 and 5.2.2 are both a full mailbox).
struct code_rule {
    int subject, detail;
    bc cls;
};
constexpr code_rule code_rules[] = {
    {1, 1, bc::invalid_recipient},     // bad destination mailbox address
    {1, 10, bc::invalid_recipient},    // recipient address has null MX (RFC 7505 §4.2)
    {1, 3, bc::invalid_recipient},     // bad destination mailbox address syntax
    {1, 6, bc::invalid_recipient},     // destination mailbox has moved, no forwarding address
    {2, 1, bc::invalid_recipient},     // mailbox disabled, not accepting messages
    {2, 2, bc::mailbox_full},          // mailbox full
    {3, 1, bc::mailbox_full},          // mail system full
    {1, 2, bc::dns_failure},           // bad destination system address (host unknown)
    {4, 3, bc::dns_failure},           // directory server failure (DNS)
    {4, 4, bc::dns_failure},           // unable to route
    {7, 4, bc::tls_failure},           // security features not supported
    {7, 5, bc::tls_failure},           // cryptographic failure
    {7, 10, bc::tls_failure},          // encryption needed (RFC 5248)
    {4, 1, bc::timeout_or_connection}, // no answer from host
    {4, 2, bc::timeout_or_connection}, // bad connection
    {4, 7, bc::timeout_or_connection}, // delivery time expired
    {7, 8, bc::other},                 // authentication credentials invalid (our smarthost login)
};

// Rule 2: texts. Checked in this order; the first class with a matching phrase wins.
struct text_rule {
    bc cls;
    std::string_view phrase;
};
constexpr text_rule text_rules[] = {
    // TLS before policy: "TLS required" replies often carry 5.7.x.
    {bc::tls_failure, "starttls"},
    {bc::tls_failure, "tls "},
    {bc::tls_failure, "tls."},
    {bc::tls_failure, "tls,"},
    {bc::tls_failure, "ssl "},
    {bc::tls_failure, "certificate"},
    {bc::tls_failure, "handshake"},
    {bc::tls_failure, "encryption required"},
    // Our own smarthost login failing is neither the recipient's nor a policy verdict.
    {bc::other, "sasl"},
    {bc::other, "authentication failed"},
    // Mailbox full before invalid recipient: "mailbox unavailable: over quota".
    {bc::mailbox_full, "over quota"},
    {bc::mailbox_full, "overquota"},
    {bc::mailbox_full, "quota exceeded"},
    {bc::mailbox_full, "exceeded quota"},
    {bc::mailbox_full, "exceeds quota"},
    {bc::mailbox_full, "quota"},
    {bc::mailbox_full, "mailbox full"},
    {bc::mailbox_full, "mailbox is full"},
    {bc::mailbox_full, "mailfolder is full"},
    {bc::mailbox_full, "insufficient storage"},
    {bc::mailbox_full, "out of storage"},
    {bc::mailbox_full, "storage allocation"},
    {bc::mailbox_full, "exceeded storage"},
    {bc::mailbox_full, "not enough space"},
    // Greylisting is neither the recipient nor us: plain "other", soft.
    {bc::other, "greylist"},
    // Invalid recipient ("domain does not exist" is DNS, not a user).
    {bc::dns_failure, "domain does not exist"},
    {bc::invalid_recipient, "user unknown"},
    {bc::invalid_recipient, "unknown user"},
    {bc::invalid_recipient, "no such user"},
    {bc::invalid_recipient, "no such recipient"},
    {bc::invalid_recipient, "no such mailbox"},
    {bc::invalid_recipient, "no such account"},
    {bc::invalid_recipient, "unknown recipient"},
    {bc::invalid_recipient, "recipient unknown"},
    {bc::invalid_recipient, "recipient not found"},
    {bc::invalid_recipient, "invalid recipient"},
    {bc::invalid_recipient, "recipient address rejected: user"},
    {bc::invalid_recipient, "user not found"},
    {bc::invalid_recipient, "user doesn't have"},
    {bc::invalid_recipient, "mailbox unavailable"},
    {bc::invalid_recipient, "mailbox not found"},
    {bc::invalid_recipient, "mailbox does not exist"},
    {bc::invalid_recipient, "address does not exist"},
    {bc::invalid_recipient, "account does not exist"},
    {bc::invalid_recipient, "does not exist"},
    {bc::invalid_recipient, "account has been disabled"},
    {bc::invalid_recipient, "account is disabled"},
    {bc::invalid_recipient, "mailbox is disabled"},
    {bc::invalid_recipient, "not a valid mailbox"},
    {bc::invalid_recipient, "unrouteable address"},
    {bc::invalid_recipient, "undeliverable address"},
    // DNS.
    {bc::dns_failure, "host not found"},
    {bc::dns_failure, "domain not found"},
    {bc::dns_failure, "host or domain name not found"},
    {bc::dns_failure, "name service error"},
    {bc::dns_failure, "nxdomain"},
    {bc::dns_failure, "no mx"},
    {bc::dns_failure, "dns error"},
    {bc::dns_failure, "dns lookup"},
    {bc::dns_failure, "dns failure"},
    // Spam or policy.
    {bc::spam_or_policy_block, "spam"},
    {bc::spam_or_policy_block, "unsolicited"},
    {bc::spam_or_policy_block, "blocked"},
    {bc::spam_or_policy_block, "blacklist"},
    {bc::spam_or_policy_block, "blocklist"},
    {bc::spam_or_policy_block, "black list"},
    {bc::spam_or_policy_block, "block list"},
    {bc::spam_or_policy_block, "denylist"},
    {bc::spam_or_policy_block, "reputation"},
    {bc::spam_or_policy_block, "policy"},
    {bc::spam_or_policy_block, "dnsbl"},
    {bc::spam_or_policy_block, "rbl"},
    {bc::spam_or_policy_block, "listed"},
    {bc::spam_or_policy_block, "dmarc"},
    {bc::spam_or_policy_block, "spf"},
    {bc::spam_or_policy_block, "dkim"},
    {bc::spam_or_policy_block, "relay"},
    {bc::spam_or_policy_block, "access denied"},
    {bc::spam_or_policy_block, "rate limit"},
    {bc::spam_or_policy_block, "rate-limit"},
    {bc::spam_or_policy_block, "too many messages"},
    {bc::spam_or_policy_block, "virus"},
    {bc::spam_or_policy_block, "rejected due to"},
    // Timeout or connection.
    {bc::timeout_or_connection, "timed out"},
    {bc::timeout_or_connection, "timeout"},
    {bc::timeout_or_connection, "connection refused"},
    {bc::timeout_or_connection, "connection reset"},
    {bc::timeout_or_connection, "connection lost"},
    {bc::timeout_or_connection, "lost connection"},
    {bc::timeout_or_connection, "connection closed"},
    {bc::timeout_or_connection, "too many connections"},
    {bc::timeout_or_connection, "unreachable"},
    {bc::timeout_or_connection, "no route to host"},
};

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

} // namespace

std::string_view to_string(bounce_class c) {
    for (const auto& n : names)
        if (n.cls == c) return n.name;
    return "other";
}

std::optional<bounce_class> parse_class(std::string_view name) {
    for (const auto& n : names)
        if (n.name == name) return n.cls;
    return std::nullopt;
}

classification classify(int code, std::string_view enhanced, std::string_view text) {
    const status_code st = parse_status(enhanced);
    classification out;
    out.hard = st.cls >= 0 ? st.cls == 5 : code >= 500;
    const std::string t = lower(text);

    // Vendor habit: Microsoft answers unknown recipients with "550 5.4.1 Recipient address
    // rejected: Access denied" (directory-based edge blocking), not with 5.1.1.
    if (st.subject == 4 && st.detail == 1 && t.find("recipient address rejected") != std::string::npos) {
        out.cls = bc::invalid_recipient;
        return out;
    }
    // 1. Specific codes.
    if (st.cls >= 0) {
        for (const auto& r : code_rules) {
            if (r.subject == st.subject && r.detail == st.detail) {
                out.cls = r.cls;
                return out;
            }
        }
    }
    // 2. Texts.
    for (const auto& r : text_rules) {
        if (t.find(r.phrase) != std::string::npos) {
            out.cls = r.cls;
            return out;
        }
    }
    // 3. Subjects and basic codes.
    if (st.cls >= 0) {
        switch (st.subject) {
        case 7: out.cls = bc::spam_or_policy_block; return out; // security or policy status
        case 4: out.cls = bc::timeout_or_connection; return out; // network and routing status
        default: break;
        }
    }
    switch (code) {
    case 421: out.cls = bc::timeout_or_connection; break; // service closing the channel
    case 551:                                              // user not local
    case 553: out.cls = bc::invalid_recipient; break;      // mailbox name not allowed
    case 552:                                              // exceeded storage allocation
        out.cls = st.cls < 0 ? bc::mailbox_full : bc::other;
        break;
    default: out.cls = bc::other; break;
    }
    return out;
}

classification classify(const reply& r) {
    std::string text;
    for (const auto& l : r.lines) {
        if (!text.empty()) text += ' ';
        text += l;
    }
    return classify(r.code, r.enhanced, text);
}

} // namespace cartero::bounce
