// daemon/bounce/dsn_builder.cpp — DSN layout: headers, human part, delivery-status, original.
#include "daemon/bounce/dsn_builder.hpp"

#include "daemon/bounce/message_parts.hpp"

#include "core/octets.hpp"

#include <algorithm>
#include <ctime>
#include <random>

namespace cartero::bounce {

namespace {

constexpr std::size_t fold_at = 76;   // folded field lines aim here…
constexpr std::size_t hard_max = 990; // …and never pass this (RFC 5322 §2.1.1: 998)

std::string random_hex(std::size_t n) {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    while (out.size() < n) {
        std::uint64_t v = rng();
        for (int i = 0; i < 16 && out.size() < n; ++i, v >>= 4) out += hex[v & 15];
    }
    return out;
}

// A remote reply as one line: CR/LF runs become one space, other controls '?'. Non-ASCII stays
// only when `allow_utf8` (the human part is UTF-8; delivery-status fields are ASCII, §2.1.1).
std::string one_line(std::string_view s, bool allow_utf8) {
    std::string out;
    bool pending_space = false;
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        if (c == '\r' || c == '\n') {
            pending_space = !out.empty();
            continue;
        }
        if (pending_space) {
            if (out.back() != ' ') out += ' ';
            pending_space = false;
        }
        if (c < 0x20 || c == 0x7f) out += c == '\t' ? ' ' : '?';
        else if (c >= 0x80 && !allow_utf8) out += '?';
        else out += ch;
    }
    return out;
}

// "Name: value" folded at spaces (RFC 5322 §2.2.3) to about fold_at, never beyond hard_max.
std::string field(std::string_view name, std::string_view value) {
    std::string out(name);
    out += ": ";
    std::size_t line_len = out.size();
    std::size_t i = 0;
    while (i < value.size()) {
        std::size_t sp = value.find(' ', i + 1);
        std::size_t word_end = sp == std::string_view::npos ? value.size() : sp;
        std::string_view word = value.substr(i, word_end - i); // may start with its space
        if (line_len + word.size() > fold_at && line_len > name.size() + 2 && word.front() == ' ') {
            out += "\r\n";
            line_len = 0;
        }
        while (line_len + word.size() > hard_max) { // one endless word: break it
            std::size_t take = hard_max - line_len;
            out.append(word.substr(0, take));
            out += "\r\n ";
            line_len = 1;
            word.remove_prefix(take);
        }
        out.append(word);
        line_len += word.size();
        i = word_end;
    }
    out += "\r\n";
    return out;
}

// Text lines for the human part, wrapped hard at hard_max.
void text_line(std::string& out, std::string_view indent, std::string_view s) {
    do {
        std::size_t take = std::min(s.size(), hard_max - indent.size());
        out += indent;
        out.append(s.substr(0, take));
        out += "\r\n";
        s.remove_prefix(take);
    } while (!s.empty());
}

bool is_success(dsn_action a) { return a == dsn_action::delivered || a == dsn_action::relayed; }

const char* action_name(dsn_action a) {
    switch (a) {
    case dsn_action::failed: return "failed";
    case dsn_action::delayed: return "delayed";
    case dsn_action::delivered: return "delivered";
    case dsn_action::relayed: return "relayed";
    }
    return "failed";
}

std::string status_of(const dsn_recipient& r) {
    if (!r.status.empty()) return r.status;
    if (is_success(r.action)) return "2.0.0"; // RFC 3463 §3.1: success
    auto e = mime::trim(r.diagnostic);
    // The enhanced code after the basic code in the reply text.
    if (e.size() > 4) {
        std::string_view t = std::string_view(e).substr(4);
        std::size_t n = 0;
        while (n < t.size() && t[n] != ' ') ++n;
        std::string_view cand = t.substr(0, n);
        int dots = 0;
        bool ok = cand.size() >= 5 && (cand[0] == '4' || cand[0] == '5');
        for (char c : cand) {
            if (c == '.') ++dots;
            else if (c < '0' || c > '9') ok = false;
        }
        if (ok && dots == 2) return std::string(cand);
    }
    int cls = r.reply_code / 100;
    if (cls != 4 && cls != 5) cls = r.action == dsn_action::delayed ? 4 : 5;
    return std::to_string(cls) + ".0.0";
}

// Address type for Final-/Original-Recipient (RFC 3464 §2.3.2, RFC 6533 §3 "utf-8").
std::string typed_address(std::string_view a) {
    return (has_non_ascii(a) ? "utf-8; " : "rfc822; ") + std::string(a);
}

} // namespace

std::string rfc5322_date(sys_time t) {
    std::time_t tt = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    return buf;
}

parsed<built_dsn> build_dsn(const dsn_request& req) {
    using result = parsed<built_dsn>;
    if (req.envelope_sender.empty())
        return result::failure("no DSN for a null envelope sender (RFC 3464 §4)");
    if (req.recipients.empty()) return result::failure("no recipients to report");
    if (req.reporting_mta.empty()) return result::failure("reporting MTA name is empty");

    built_dsn out;
    bool all_delayed = true, all_success = true;
    bool utf8 = has_non_ascii(req.envelope_sender);
    for (const auto& r : req.recipients) {
        all_delayed = all_delayed && r.action == dsn_action::delayed;
        all_success = all_success && is_success(r.action);
        utf8 = utf8 || has_non_ascii(r.final_recipient) || has_non_ascii(r.original_recipient);
    }
    out.needs_smtputf8 = utf8;

    auto [orig_headers, orig_body] = mime::split(req.original);
    auto orig_fields = mime::parse_fields(orig_headers);
    const bool full = req.dsn_ret != "HDRS" && req.original.size() <= req.full_limit;
    std::string original_part = full ? std::string(req.original) : std::string(orig_headers);
    if (!original_part.empty() && original_part.back() != '\n') original_part += "\r\n";
    out.eight_bit = has_non_ascii(original_part) || utf8;

    // ---- 1. the human-readable part --------------------------------------------------
    std::string human;
    human += "This is the mail delivery system at " + req.reporting_mta + ".\r\n\r\n";
    if (all_success) {
        human += "Your message was delivered to the recipients below, as you asked to be told\r\n"
                 "(a relayed message was handed to a server that reports on it itself).\r\n\r\n";
    } else if (all_delayed) {
        human += "Your message has not been delivered yet to the recipients below.\r\n"
                 "The system will keep trying; you do not need to send it again.\r\n\r\n";
    } else {
        human += "Your message could not be delivered to the recipients below.\r\n"
                 "This is a permanent error; the system will not try again.\r\n\r\n";
    }
    for (const auto& r : req.recipients) {
        text_line(human, "", "<" + r.final_recipient + ">" +
                                 (r.action == dsn_action::failed
                                      ? ""
                                      : std::string(" (") + action_name(r.action) + ")"));
        if (!r.reason.empty()) text_line(human, "    Reason: ", one_line(r.reason, true));
        if (!r.diagnostic.empty()) {
            text_line(human, "    ", r.remote_mta.empty()
                                         ? std::string("The mail system said:")
                                         : "The server " + r.remote_mta + " said:");
            // Quote the reply line by line, as it came.
            std::string_view d = r.diagnostic;
            while (!d.empty()) {
                std::size_t e = d.find('\n');
                std::string_view l = d.substr(0, e);
                text_line(human, "        ", one_line(l, true));
                d.remove_prefix(e == std::string_view::npos ? d.size() : e + 1);
            }
        }
        if (r.will_retry_until)
            text_line(human, "    ", "Will keep trying until " + rfc5322_date(*r.will_retry_until));
        human += "\r\n";
    }
    // No original (its spool file could not be read): say so, and leave out the third part
    // (optional, RFC 6522 §3) rather than attach an empty message.
    const bool have_original = !req.original.empty();
    human += !have_original ? "The original message could not be read and is not attached.\r\n"
             : full         ? "The original message is attached.\r\n"
                            : "The original message's headers are attached.\r\n";

    // ---- 2. the delivery-status part (RFC 3464 §2.2, §2.3) ------------------------------
    std::string status;
    status += field("Reporting-MTA", "dns; " + req.reporting_mta);
    if (!req.queue_id.empty()) status += field("X-Cartero-Queue-ID", req.queue_id);
    if (!req.envid.empty()) status += field("Original-Envelope-Id", one_line(req.envid, false));
    status += field("Arrival-Date", rfc5322_date(req.arrival_date));
    for (const auto& r : req.recipients) {
        status += "\r\n";
        if (!r.original_recipient.empty())
            status += field("Original-Recipient", typed_address(r.original_recipient));
        status += field("Final-Recipient", typed_address(r.final_recipient));
        status += field("Action", action_name(r.action));
        status += field("Status", status_of(r));
        if (!r.remote_mta.empty()) status += field("Remote-MTA", "dns; " + r.remote_mta);
        if (!r.diagnostic.empty())
            status += field("Diagnostic-Code", "smtp; " + one_line(r.diagnostic, false));
        if (r.last_attempt != sys_time{})
            status += field("Last-Attempt-Date", rfc5322_date(r.last_attempt));
        if (r.will_retry_until) status += field("Will-Retry-Until", rfc5322_date(*r.will_retry_until));
    }

    // ---- boundary, unique against the content (RFC 2046 §5.1.1) -------------------------
    std::string boundary;
    do {
        boundary = "=_cartero_" + random_hex(24);
    } while (human.find(boundary) != std::string::npos ||
             original_part.find(boundary) != std::string::npos);

    // ---- headers and assembly ------------------------------------------------------------
    out.message_id = "<" + random_hex(20) + ".dsn@" + req.reporting_mta + ">";
    std::string& m = out.message;
    m.reserve(original_part.size() + human.size() + status.size() + 2048);
    m += field("From", "Mail Delivery System <MAILER-DAEMON@" + req.reporting_mta + ">");
    m += field("To", "<" + req.envelope_sender + ">");
    m += field("Subject", all_success   ? "Successful Mail Delivery Report"
                          : all_delayed ? "Delivery Status Notification (Delay)"
                                        : "Undelivered Mail Returned to Sender");
    m += field("Date", rfc5322_date(req.now));
    m += field("Message-ID", out.message_id);
    if (auto id = mime::get(orig_fields, "Message-ID"); id && !id->empty() && id->size() < 900)
        m += field("References", one_line(*id, false));
    m += field("Auto-Submitted", "auto-replied"); // RFC 3834 §5: no autoreply to this
    m += field("MIME-Version", "1.0");
    m += "Content-Type: multipart/report; report-type=delivery-status;\r\n"
         "\tboundary=\"" + boundary + "\"\r\n";
    m += "\r\nThis is a MIME-encapsulated message.\r\n\r\n";

    m += "--" + boundary + "\r\n";
    m += "Content-Description: Notification\r\n";
    m += std::string("Content-Type: text/plain; charset=") + (has_non_ascii(human) ? "utf-8" : "us-ascii") + "\r\n";
    if (has_non_ascii(human)) m += "Content-Transfer-Encoding: 8bit\r\n";
    m += "\r\n" + human + "\r\n";

    m += "--" + boundary + "\r\n";
    m += "Content-Description: Delivery report\r\n";
    m += utf8 ? "Content-Type: message/global-delivery-status\r\n"
              : "Content-Type: message/delivery-status\r\n";
    if (utf8) m += "Content-Transfer-Encoding: 8bit\r\n";
    m += "\r\n" + status + "\r\n";

    if (!have_original) {
        m += "--" + boundary + "--\r\n";
        return result::success(std::move(out));
    }
    m += "--" + boundary + "\r\n";
    if (full) {
        m += "Content-Description: Undelivered Message\r\n";
        m += "Content-Type: message/rfc822\r\n";
    } else {
        m += "Content-Description: Undelivered Message Headers\r\n";
        m += "Content-Type: text/rfc822-headers\r\n";
    }
    // RFC 2046 §5.2.1: message/rfc822 allows 7bit, 8bit or binary only.
    if (has_non_ascii(original_part)) m += "Content-Transfer-Encoding: 8bit\r\n";
    m += "\r\n" + original_part;
    m += "\r\n--" + boundary + "--\r\n";
    return result::success(std::move(out));
}

} // namespace cartero::bounce
