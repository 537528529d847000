// daemon/bounce/dsn_parser.hpp — reads bounces that come back (flow 4): RFC 3464 DSNs and plain ones.
#pragma once

#include "daemon/bounce/classifier.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace cartero::bounce {

enum class bounce_confidence {
    high, // a multipart/report; report-type=delivery-status with per-recipient fields
    low,  // no report: a bounce-looking message with a 4.x.x/5.x.x code and an address in it
};

struct bounced_recipient {
    std::string final_recipient;    // address only (type "rfc822;" and <> removed)
    std::string original_recipient; // ditto, "" when absent
    std::string action;             // lower-cased: failed, delayed, delivered, relayed, expanded
    std::string status;             // "5.1.1"
    std::string diagnostic;         // Diagnostic-Code without its type ("smtp;"), unfolded
    std::string remote_mta;         // without "dns;"
    classification cls;             // from status + diagnostic
};

struct parsed_bounce {
    bool is_bounce = false; // at least one failed or delayed recipient
    bool is_dsn = false;    // a delivery-status report (also success/relay reports)
    bounce_confidence confidence = bounce_confidence::high;
    std::string reporting_mta;       // without "dns;"
    std::string original_envelope_id;
    std::string original_message_id; // from the returned message or headers, "<…>"
    std::string verp_token;          // unverified: check it with verp_parse_token()
    std::vector<bounced_recipient> recipients;
};

struct bounce_parse_options {
    std::string_view envelope_recipient; // the RCPT TO the bounce arrived for (best VERP source)
    std::string_view verp_prefix = "bounces";
};

// Parses a received message. Finds a multipart/report with report-type=delivery-status at the
// top or nested (up to 3 levels, e.g. inside multipart/mixed), reads message/delivery-status
// (or message/global-delivery-status, RFC 6533) per-recipient groups, and the original's
// Message-ID from its message/rfc822, message/global, text/rfc822-headers or
// message/global-headers part. Base64 and quoted-printable parts are decoded.
// VERP token, first found in: the envelope recipient, the original's Return-Path, the bounce's
// own Delivered-To / X-Original-To / To, then the original's headers anywhere.
// Without a report: low-confidence fallback when the message looks like a bounce (From
// MAILER-DAEMON/postmaster, an empty Return-Path, or a Subject like "Undeliverable",
// "Returned mail", "Delivery Status Notification", "failure notice") and its text holds a
// 4.x.x/5.x.x status code and an address other than the bounce's own From/To/VERP address.
// Anything else: is_bounce = false. Never throws on any input.
parsed_bounce parse_bounce(std::string_view message, const bounce_parse_options& opt = {});

} // namespace cartero::bounce
