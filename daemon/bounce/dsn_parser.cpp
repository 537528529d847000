// daemon/bounce/dsn_parser.cpp — finding the report, reading its fields, the plain-text fallback.
#include "daemon/bounce/dsn_parser.hpp"

#include "daemon/bounce/message_parts.hpp"
#include "daemon/bounce/verp.hpp"

namespace cartero::bounce {

namespace {

struct found {
    std::string status_text;   // decoded delivery-status body
    std::string original_head; // decoded header block of the returned message
    bool report = false;
};

// "rfc822; <a@b>" → "a@b"; "dns; mx.example" → "mx.example".
std::string strip_type(std::string_view v) {
    std::size_t semi = v.find(';');
    std::string s = mime::trim(semi == std::string_view::npos ? v : v.substr(semi + 1));
    if (s.size() >= 2 && s.front() == '<' && s.back() == '>') s = s.substr(1, s.size() - 2);
    return s;
}

void walk(std::string_view part, int depth, found& f) {
    if (depth > 3) return;
    auto [head, body] = mime::split(part);
    auto fields = mime::parse_fields(head);
    auto ct = mime::parse_content_type(mime::get(fields, "Content-Type").value_or("text/plain"));
    std::string cte = mime::get(fields, "Content-Transfer-Encoding").value_or("");
    if (ct.type == "multipart/report" && mime::lower(ct.param("report-type")) == "delivery-status")
        f.report = true;
    if (ct.type.rfind("multipart/", 0) == 0) {
        for (auto p : mime::multipart(body, ct.param("boundary"))) walk(p, depth + 1, f);
        return;
    }
    if (!f.report) return; // parts outside a report are not the report's
    if ((ct.type == "message/delivery-status" || ct.type == "message/global-delivery-status") &&
        f.status_text.empty()) {
        f.status_text = mime::decode(body, cte);
    } else if ((ct.type == "message/rfc822" || ct.type == "message/global") &&
               f.original_head.empty()) {
        std::string inner = mime::decode(body, cte);
        f.original_head = std::string(mime::split(inner).first);
    } else if ((ct.type == "text/rfc822-headers" || ct.type == "message/global-headers") &&
               f.original_head.empty()) {
        f.original_head = mime::decode(body, cte);
    }
}

// delivery-status body: groups of fields separated by empty lines (RFC 3464 §2.1).
std::vector<std::vector<mime::field>> groups(std::string_view text) {
    std::vector<std::vector<mime::field>> out;
    std::string cur;
    std::size_t pos = 0;
    auto flush = [&] {
        auto fs = mime::parse_fields(cur);
        if (!fs.empty()) out.push_back(std::move(fs));
        cur.clear();
    };
    while (pos < text.size()) {
        std::size_t e = text.find('\n', pos);
        std::string_view line = text.substr(pos, e == std::string_view::npos ? e : e - pos);
        pos = e == std::string_view::npos ? text.size() : e + 1;
        std::string_view l = line;
        if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
        if (mime::trim(l).empty()) {
            flush();
            continue;
        }
        cur.append(l);
        cur += "\r\n";
    }
    flush();
    return out;
}

// Basic code and enhanced code out of "550 5.1.1 text" / "550-5.1.1 text".
classification classify_diag(std::string_view status, std::string_view diag) {
    int code = 0;
    std::string_view text = diag;
    if (diag.size() >= 3 && diag[0] >= '2' && diag[0] <= '5' && diag[1] >= '0' && diag[1] <= '9' &&
        diag[2] >= '0' && diag[2] <= '9' && (diag.size() == 3 || diag[3] == ' ' || diag[3] == '-')) {
        code = (diag[0] - '0') * 100 + (diag[1] - '0') * 10 + (diag[2] - '0');
        text = diag.substr(std::min<std::size_t>(4, diag.size()));
    }
    return classify(code, status, text);
}

bool is_atext(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("!#$%&'*+/=?^_`{|}~.-").find(c) != std::string_view::npos ||
           static_cast<unsigned char>(c) >= 0x80;
}
bool is_domain_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '-' || static_cast<unsigned char>(c) >= 0x80;
}

// Every address-looking token in text, in order.
std::vector<std::string> addresses(std::string_view t) {
    std::vector<std::string> out;
    for (std::size_t at = t.find('@'); at != std::string_view::npos; at = t.find('@', at + 1)) {
        std::size_t b = at;
        while (b > 0 && is_atext(t[b - 1])) --b;
        std::size_t e = at + 1;
        while (e < t.size() && is_domain_char(t[e])) ++e;
        std::string_view local = t.substr(b, at - b);
        std::string_view dom = t.substr(at + 1, e - at - 1);
        while (!local.empty() && local.front() == '.') local.remove_prefix(1);
        while (!dom.empty() && (dom.back() == '.' || dom.back() == '-')) dom.remove_suffix(1);
        if (local.empty() || dom.find('.') == std::string_view::npos) continue;
        out.push_back(std::string(local) + "@" + std::string(dom));
    }
    return out;
}

// First RFC 3463 code of class 4 or 5 in the text, standing alone; its line as diagnostic.
bool find_status(std::string_view t, std::string& status, std::string& line) {
    for (std::size_t i = 0; i + 5 <= t.size(); ++i) {
        if ((t[i] != '4' && t[i] != '5') || t[i + 1] != '.') continue;
        if (i > 0 && is_domain_char(t[i - 1])) continue;
        std::size_t j = i + 2, n = 0;
        while (j < t.size() && t[j] >= '0' && t[j] <= '9' && n < 3) ++j, ++n;
        if (n == 0 || j >= t.size() || t[j] != '.') continue;
        ++j;
        n = 0;
        while (j < t.size() && t[j] >= '0' && t[j] <= '9' && n < 3) ++j, ++n;
        if (n == 0 || (j < t.size() && (is_domain_char(t[j]) && t[j] != '.'))) continue;
        if (j < t.size() && t[j] == '.' && j + 1 < t.size() && t[j + 1] >= '0' && t[j + 1] <= '9')
            continue; // an IP address
        status = std::string(t.substr(i, j - i));
        std::size_t ls = t.rfind('\n', i);
        ls = ls == std::string_view::npos ? 0 : ls + 1;
        std::size_t le = t.find('\n', i);
        line = mime::trim(t.substr(ls, le == std::string_view::npos ? le : le - ls));
        return true;
    }
    return false;
}

bool looks_like_bounce(const std::vector<mime::field>& fs) {
    const std::string from = mime::lower(mime::get(fs, "From").value_or(""));
    const std::string subject = mime::lower(mime::get(fs, "Subject").value_or(""));
    const std::string rp = mime::trim(mime::get(fs, "Return-Path").value_or("x"));
    if (from.find("mailer-daemon") != std::string::npos || from.find("postmaster") != std::string::npos)
        return true;
    if (rp == "<>") return true; // RFC 5321 §4.5.5: bounces come from the null sender
    for (const char* s : {"undeliver", "returned mail", "delivery status notification",
                          "failure notice", "delivery failure", "mail delivery failed",
                          "non-delivery", "could not be delivered", "delivery has failed"})
        if (subject.find(s) != std::string::npos) return true;
    return false;
}

// The readable text of a message: text/plain parts, decoded (whole body when not multipart).
void plain_text(std::string_view part, int depth, std::string& out) {
    if (depth > 3) return;
    auto [head, body] = mime::split(part);
    auto fields = mime::parse_fields(head);
    auto ct = mime::parse_content_type(mime::get(fields, "Content-Type").value_or("text/plain"));
    std::string cte = mime::get(fields, "Content-Transfer-Encoding").value_or("");
    if (ct.type.rfind("multipart/", 0) == 0) {
        for (auto p : mime::multipart(body, ct.param("boundary"))) plain_text(p, depth + 1, out);
    } else if (ct.type == "text/plain" || ct.type.rfind("message/", 0) == 0 ||
               ct.type == "text/rfc822-headers") {
        out += mime::decode(body, cte);
        out += "\n";
    }
}

} // namespace

parsed_bounce parse_bounce(std::string_view message, const bounce_parse_options& opt) {
    parsed_bounce pb;
    auto [head, body] = mime::split(message);
    auto fields = mime::parse_fields(head);
    found f;
    walk(message, 0, f);

    std::vector<mime::field> orig = mime::parse_fields(f.original_head);
    pb.original_message_id = mime::get(orig, "Message-ID").value_or("");

    // VERP token, most reliable source first.
    for (const std::string& src :
         {std::string(opt.envelope_recipient), mime::get(orig, "Return-Path").value_or(""),
          mime::get(fields, "Delivered-To").value_or(""),
          mime::get(fields, "X-Original-To").value_or(""), mime::get(fields, "To").value_or(""),
          f.original_head}) {
        pb.verp_token = verp_find_token(src, opt.verp_prefix);
        if (!pb.verp_token.empty()) break;
    }

    if (f.report && !f.status_text.empty()) {
        pb.is_dsn = true;
        auto gs = groups(f.status_text);
        for (std::size_t i = 0; i < gs.size(); ++i) {
            const auto& g = gs[i];
            if (i == 0 && !mime::get(g, "Final-Recipient")) { // per-message fields (§2.2)
                pb.reporting_mta = strip_type(mime::get(g, "Reporting-MTA").value_or(""));
                pb.original_envelope_id = mime::get(g, "Original-Envelope-Id").value_or("");
                continue;
            }
            bounced_recipient r;
            r.final_recipient = strip_type(mime::get(g, "Final-Recipient").value_or(""));
            if (r.final_recipient.empty()) continue;
            if (auto o = mime::get(g, "Original-Recipient")) r.original_recipient = strip_type(*o);
            r.action = mime::lower(mime::trim(mime::get(g, "Action").value_or("")));
            r.status = mime::trim(mime::get(g, "Status").value_or(""));
            r.status = r.status.substr(0, r.status.find_first_of(" \t(")); // "5.0.0 (comment)"
            if (auto d = mime::get(g, "Diagnostic-Code")) {
                std::size_t semi = d->find(';');
                r.diagnostic = mime::trim(semi == std::string::npos ? *d : d->substr(semi + 1));
            }
            if (auto m = mime::get(g, "Remote-MTA")) r.remote_mta = strip_type(*m);
            r.cls = classify_diag(r.status, r.diagnostic);
            if (r.action == "failed" || r.action == "delayed") pb.is_bounce = true;
            pb.recipients.push_back(std::move(r));
        }
        return pb;
    }

    // ---- fallback: a non-standard bounce -----------------------------------------------
    if (!looks_like_bounce(fields)) return pb;
    std::string text;
    plain_text(message, 0, text);
    std::string status, line;
    if (!find_status(text, status, line)) return pb;
    // Addresses that are the bounce's own: its From, To and our VERP address.
    std::vector<std::string> own;
    for (const char* h : {"From", "To", "Delivered-To", "X-Original-To", "Return-Path"})
        for (auto& a : addresses(mime::get(fields, h).value_or(""))) own.push_back(mime::lower(a));
    for (auto& a : addresses(opt.envelope_recipient)) own.push_back(mime::lower(a));
    std::string candidate;
    // Prefer an address on the diagnostic's line, then any in the text.
    for (const std::string& src : {line, text}) {
        for (auto& a : addresses(src)) {
            std::string la = mime::lower(a);
            bool skip = la.find("mailer-daemon@") == 0 || la.find("postmaster@") == 0 ||
                        !verp_find_token(la, opt.verp_prefix).empty();
            for (auto& o : own) skip = skip || o == la;
            if (!skip) {
                candidate = a;
                break;
            }
        }
        if (!candidate.empty()) break;
    }
    if (candidate.empty()) return pb;
    pb.is_bounce = true;
    pb.confidence = bounce_confidence::low;
    bounced_recipient r;
    r.final_recipient = candidate;
    r.action = status[0] == '4' ? "delayed" : "failed";
    r.status = status;
    r.diagnostic = line;
    r.cls = classify_diag(status, line);
    if (r.cls.hard != (status[0] == '5')) r.cls.hard = status[0] == '5';
    pb.recipients.push_back(std::move(r));
    if (pb.original_message_id.empty()) { // a returned message pasted inline
        std::size_t p = mime::lower(text).find("\nmessage-id:");
        if (p != std::string::npos) {
            std::size_t e = text.find('\n', p + 1);
            pb.original_message_id = mime::trim(text.substr(p + 12, e == std::string::npos ? e : e - p - 12));
        }
    }
    if (pb.verp_token.empty()) pb.verp_token = verp_find_token(text, opt.verp_prefix);
    return pb;
}

} // namespace cartero::bounce
