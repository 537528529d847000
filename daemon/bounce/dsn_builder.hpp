// daemon/bounce/dsn_builder.hpp — builds RFC 3464 delivery status notifications (multipart/report).
#pragma once

#include "core/parsed.hpp"

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cartero::bounce {

using sys_time = std::chrono::system_clock::time_point;

// RFC 3464 §2.3.3. failed/delayed: Cartero's bounce reports; delivered/relayed: success
// reports asked for with NOTIFY=SUCCESS (RFC 3461 §5.2.2: "relayed" when the next hop takes
// over the DSN duty because it offers DSN itself).
enum class dsn_action { failed, delayed, delivered, relayed };

struct dsn_recipient {
    std::string final_recipient;    // the address we tried (RFC 3464 §2.3.2)
    std::string original_recipient; // ORCPT address, "" = none (§2.3.1)
    dsn_action action = dsn_action::failed;
    std::string status;      // "5.1.1" (§2.3.4); "" → taken from the reply: its enhanced code,
                             // else "<class>.0.0" (2.0.0 for delivered/relayed)
    int reply_code = 0;      // the basic code of `diagnostic`, to derive `status` (0 = none)
    std::string remote_mta;  // "" when no server answered (§2.3.5)
    std::string diagnostic;  // the remote reply verbatim, lines joined by CRLF or not (§2.3.6)
    std::string reason;      // optional plain words for the human part ("mailbox full")
    sys_time last_attempt{}; // §2.3.7
    std::optional<sys_time> will_retry_until; // delayed only (§2.3.8)
};

// RET (RFC 3461 §4.3) as stored with the message: "" (not given), "FULL" or "HDRS".
struct dsn_request {
    std::string reporting_mta;   // our hostname: From: MAILER-DAEMON@it, Reporting-MTA
    std::string envelope_sender; // To: — the original MAIL FROM; "" (null sender) is refused
    std::string envid;           // Original-Envelope-Id, "" = none (§2.2.1)
    std::string queue_id;        // X-Cartero-Queue-ID extension field, "" = none
    sys_time arrival_date{};     // §2.2.5
    sys_time now{};              // Date:, and the Message-ID's time
    std::vector<dsn_recipient> recipients; // every recipient that failed (or was delayed) this run
    std::string_view original;   // the original message, CRLF lines
    std::string dsn_ret;         // "", "FULL" or "HDRS"
    std::size_t full_limit = 256u << 10; // beyond: headers only, whatever RET says
};

struct built_dsn {
    std::string message;    // CRLF lines, ready for the queue (send it with MAIL FROM:<>)
    std::string message_id; // "<…@reporting_mta>"
    bool eight_bit = false;       // send with BODY=8BITMIME (8-bit octets in the original)
    bool needs_smtputf8 = false;  // a UTF-8 address is in it (RFC 6533 global DSN)
};

// Builds one DSN for one message listing every recipient of `req` (DESIGN.md flow 3: one DSN
// per message per delivery run). Layout (RFC 6522 multipart/report, RFC 3464):
//   headers: From: Mail Delivery System <MAILER-DAEMON@host>, To: <sender>, Subject
//   ("Undelivered Mail Returned to Sender", "Delivery Status Notification (Delay)" when
//   every recipient is delayed, "Successful Mail Delivery Report" when every recipient was
//   delivered or relayed), Date, Message-ID, References (the original's Message-ID),
//   Auto-Submitted: auto-replied (RFC 3834 §5), MIME-Version, Content-Type: multipart/report;
//   report-type=delivery-status; boundary=…
//   1. text/plain: who failed and why, the remote reply quoted;
//   2. message/delivery-status (message/global-delivery-status with UTF-8 addresses, RFC 6533);
//   3. message/rfc822 (whole original) when RET is not HDRS and the original is ≤ full_limit,
//      else text/rfc822-headers (its header block).
// Lines end in CRLF and stay ≤ 998 octets (long diagnostics are folded); the boundary is
// random and checked against the content. Refused (failure, nothing built): a null envelope
// sender (RFC 3464 §4 / RFC 5321 §4.5.5: never bounce a bounce), no recipients, an empty
// reporting MTA.
parsed<built_dsn> build_dsn(const dsn_request& req);

// RFC 5322 §3.3 date-time in UTC: "Tue, 24 Nov 2026 10:05:00 +0000".
std::string rfc5322_date(sys_time t);

} // namespace cartero::bounce
