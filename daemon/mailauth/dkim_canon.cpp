// daemon/mailauth/dkim_canon.cpp — header/body split and RFC 6376 §3.4 canonicalisation.
#include "daemon/mailauth/dkim_canon.hpp"

#include <algorithm>

namespace cartero::mailauth {

bool is_wsp(char c) {
    return c == ' ' || c == '\t';
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

message_view split_message(std::string_view m) {
    message_view out;
    std::size_t pos = 0;
    while (pos < m.size()) {
        std::size_t eol = m.find("\r\n", pos);
        std::size_t line_end = eol == std::string_view::npos ? m.size() : eol;
        std::size_t next = eol == std::string_view::npos ? m.size() : eol + 2;
        if (line_end == pos) { // the empty line: the body follows
            out.body = m.substr(next);
            return out;
        }
        if (is_wsp(m[pos]) && !out.headers.empty()) {
            // RFC 5322 §2.2.3: a continuation line extends the previous field.
            auto& h = out.headers.back();
            h.raw = std::string_view(h.raw.data(),
                                     static_cast<std::size_t>(m.data() + line_end - h.raw.data()));
        } else {
            std::string_view line = m.substr(pos, line_end - pos);
            std::size_t colon = line.find(':');
            std::string_view name = line.substr(0, colon == std::string_view::npos ? 0 : colon);
            while (!name.empty() && is_wsp(name.back()))
                name.remove_suffix(1);
            // RFC 5322 §3.6.8: field names are printable ASCII except ':'.
            bool ok =
                colon != std::string_view::npos && !name.empty() &&
                std::all_of(name.begin(), name.end(), [](char c) { return c > 32 && c < 127; });
            if (!ok) {
                out.well_formed = false;
                if (colon == std::string_view::npos) name = line;
            }
            out.headers.push_back({name, line});
        }
        pos = next;
    }
    return out;
}

void canon_header(std::string& out, std::string_view raw, canon c) {
    if (c == canon::simple) {
        out.append(raw);
        out.append("\r\n");
        return;
    }
    std::size_t colon = raw.find(':');
    std::string_view name = raw.substr(0, colon);
    while (!name.empty() && is_wsp(name.back()))
        name.remove_suffix(1);
    for (char ch : name)
        out += (ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch - 'A' + 'a') : ch;
    out += ':';
    if (colon == std::string_view::npos) {
        out.append("\r\n");
        return;
    }
    // Unfold (drop CRLF), WSP runs → one SP, none at either end of the value (RFC 6376 §3.4.2).
    bool pending_space = false;
    bool started = false;
    for (std::size_t i = colon + 1; i < raw.size(); ++i) {
        char ch = raw[i];
        if (ch == '\r' && i + 1 < raw.size() && raw[i + 1] == '\n') {
            ++i;
            continue;
        }
        if (is_wsp(ch)) {
            pending_space = started;
            continue;
        }
        if (pending_space) out += ' ';
        pending_space = false;
        started = true;
        out += ch;
    }
    out.append("\r\n");
}

void hash_signed_headers(sha256& h, const message_view& m, const std::vector<std::string>& names,
                         canon c) {
    std::vector<bool> used(m.headers.size(), false);
    std::string buf;
    for (const auto& name : names) {
        for (std::size_t i = m.headers.size(); i-- > 0;) {
            if (used[i] || m.headers[i].name.size() != name.size() ||
                lower(m.headers[i].name) != name)
                continue;
            used[i] = true;
            buf.clear();
            canon_header(buf, m.headers[i].raw, c);
            h.update(buf);
            break;
        }
    }
}

std::string strip_b_value(std::string_view raw) {
    std::size_t colon = raw.find(':');
    if (colon == std::string_view::npos) return std::string(raw);
    std::size_t pos = colon + 1;
    while (pos <= raw.size()) {
        std::size_t semi = raw.find(';', pos);
        std::size_t end = semi == std::string_view::npos ? raw.size() : semi;
        std::string_view spec = raw.substr(pos, end - pos);
        std::size_t eq = spec.find('=');
        if (eq != std::string_view::npos) {
            std::string_view name = spec.substr(0, eq);
            auto fws = [](char ch) { return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n'; };
            while (!name.empty() && fws(name.front()))
                name.remove_prefix(1);
            while (!name.empty() && fws(name.back()))
                name.remove_suffix(1);
            if (name == "b") {
                std::string out(raw.substr(0, pos + eq + 1));
                out.append(raw.substr(end));
                return out;
            }
        }
        if (semi == std::string_view::npos) break;
        pos = semi + 1;
    }
    return std::string(raw);
}

namespace {

// Emits the canonical body line by line to `sink(std::string_view)`. Empty lines are held back
// until a non-empty line follows, because trailing empty lines are not part of the body.
template <class Sink> void canon_body_lines(std::string_view body, canon c, Sink&& sink) {
    std::size_t held_empty = 0;
    bool any = false;
    std::string line_buf;
    std::size_t pos = 0;
    while (pos < body.size()) {
        std::size_t eol = body.find("\r\n", pos);
        std::size_t end = eol == std::string_view::npos ? body.size() : eol;
        std::string_view line = body.substr(pos, end - pos);
        pos = eol == std::string_view::npos ? body.size() : eol + 2;
        if (c == canon::relaxed) {
            // RFC 6376 §3.4.4: drop WSP at the line end, reduce WSP runs to one SP.
            line_buf.clear();
            bool space = false;
            for (char ch : line) {
                if (is_wsp(ch)) {
                    space = true;
                    continue;
                }
                if (space) line_buf += ' ';
                space = false;
                line_buf += ch;
            }
            line = line_buf;
        }
        if (line.empty()) {
            ++held_empty;
            continue;
        }
        for (; held_empty > 0; --held_empty)
            sink(std::string_view("\r\n"));
        sink(line);
        sink(std::string_view("\r\n")); // also for a last line that had no CRLF
        any = true;
    }
    // RFC 6376 §3.4.3: an empty body is one CRLF in simple; §3.4.4 (errata 1384): empty in relaxed.
    if (!any && c == canon::simple) sink(std::string_view("\r\n"));
}

} // namespace

std::string canon_body(std::string_view body, canon c) {
    std::string out;
    canon_body_lines(body, c, [&](std::string_view s) { out.append(s); });
    return out;
}

body_hash hash_body(std::string_view body, canon c, std::optional<std::uint64_t> limit) {
    sha256 h;
    body_hash out;
    std::uint64_t left = limit.value_or(UINT64_MAX);
    canon_body_lines(body, c, [&](std::string_view s) {
        out.length += s.size();
        std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(left, s.size()));
        h.update(s.substr(0, take));
        left -= take;
    });
    out.digest = h.finish();
    return out;
}

} // namespace cartero::mailauth
