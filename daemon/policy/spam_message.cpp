// daemon/policy/spam_message.cpp — header fields, decoded text parts and From of a message for
// the spam rules; removal of incoming X-Spam-* fields.
#include "daemon/policy/spam_message.hpp"

#include "daemon/bounce/message_parts.hpp"

#include <cctype>

namespace cartero::policy {

namespace mime = bounce::mime;

namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

bool starts_with_ci(std::string_view s, std::string_view prefix) {
    if (s.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(s[i])) !=
            std::tolower(static_cast<unsigned char>(prefix[i])))
            return false;
    return true;
}

// The first addr-spec of a From value: inside <...> when present, else the bare token with '@'.
std::string first_address(std::string_view v) {
    std::string clean; // comments and quoted strings dropped (a display name may hold '<')
    int depth = 0;
    bool quoted = false;
    for (std::size_t i = 0; i < v.size(); ++i) {
        char c = v[i];
        if (c == '\\' && (quoted || depth > 0)) {
            ++i;
            continue;
        }
        if (quoted) {
            if (c == '"') quoted = false;
            continue;
        }
        if (depth > 0) {
            if (c == '(') ++depth;
            else if (c == ')') --depth;
            continue;
        }
        if (c == '"') quoted = true;
        else if (c == '(') depth = 1;
        else clean += c;
    }
    std::string_view s = clean;
    if (auto comma = s.find(','); comma != std::string_view::npos) s = s.substr(0, comma);
    auto lt = s.find('<');
    if (lt != std::string_view::npos) {
        auto gt = s.find('>', lt);
        s = s.substr(lt + 1, gt == std::string_view::npos ? std::string_view::npos : gt - lt - 1);
    }
    std::string a = mime::trim(s);
    auto at = a.rfind('@');
    if (at == std::string::npos || at == 0 || at + 1 == a.size()) return {};
    for (char c : a)
        if (static_cast<unsigned char>(c) <= 0x20) return {};
    return a.substr(0, at + 1) + lower(a.substr(at + 1));
}

struct walker {
    const spam_message_limits& lim;
    spam_message& out;
    std::size_t parts = 0;

    void add_text(std::string_view t) {
        if (out.text.size() >= lim.max_text_bytes) return;
        if (!out.text.empty()) out.text += '\n';
        out.text.append(t.substr(0, lim.max_text_bytes - out.text.size()));
    }

    // One entity (message or part): its own header block decides type and encoding.
    void walk(std::string_view entity, std::size_t depth) {
        if (++parts > lim.max_parts || out.text.size() >= lim.max_text_bytes) return;
        auto [head, body] = mime::split(entity);
        auto fields = mime::parse_fields(head);
        auto ct = mime::parse_content_type(mime::get(fields, "content-type").value_or(""));
        const std::string cte = mime::lower(mime::get(fields, "content-transfer-encoding").value_or(""));
        if (ct.type.rfind("multipart/", 0) == 0) {
            const std::string boundary = ct.param("boundary");
            if (boundary.empty() || depth >= lim.max_depth) return;
            for (auto p : mime::multipart(body, boundary)) walk(p, depth + 1);
            return;
        }
        if (ct.type.rfind("text/", 0) != 0) return; // attachments, images: not text
        // Decode at most what could still be used (base64 shrinks, QP never grows).
        const std::size_t room = lim.max_text_bytes - out.text.size();
        std::string_view raw = body.substr(0, room / 3 * 4 + 4096);
        add_text(mime::decode(raw, cte));
    }
};

} // namespace

std::string decode_encoded_words(std::string_view v) {
    std::string out;
    std::size_t i = 0;
    bool last_was_word = false;
    std::string pending_ws;
    while (i < v.size()) {
        if (v.substr(i, 2) == "=?") {
            // =?charset?enc?text?=
            auto q1 = v.find('?', i + 2);
            auto q2 = q1 == std::string_view::npos ? q1 : v.find('?', q1 + 1);
            auto end = q2 == std::string_view::npos ? q2 : v.find("?=", q2 + 1);
            if (end != std::string_view::npos && q2 == q1 + 2) {
                char enc = static_cast<char>(std::toupper(static_cast<unsigned char>(v[q1 + 1])));
                std::string_view text = v.substr(q2 + 1, end - q2 - 1);
                if (enc == 'B' || enc == 'Q') {
                    std::string decoded;
                    if (enc == 'B') {
                        decoded = mime::decode(text, "base64");
                    } else { // RFC 2047 §4.2: '_' is a space, =XX as quoted-printable
                        std::string t(text);
                        for (auto& c : t)
                            if (c == '_') c = ' ';
                        decoded = mime::decode(t, "quoted-printable");
                    }
                    // RFC 2047 §6.2: white space between adjacent encoded-words is dropped.
                    if (!last_was_word) out += pending_ws;
                    pending_ws.clear();
                    out += decoded;
                    last_was_word = true;
                    i = end + 2;
                    continue;
                }
            }
        }
        char c = v[i++];
        if (c == ' ' || c == '\t') {
            pending_ws += c;
            continue;
        }
        out += pending_ws;
        pending_ws.clear();
        out += c;
        last_was_word = false;
    }
    out += pending_ws;
    return out;
}

spam_message read_spam_message(std::string_view message, const spam_message_limits& lim) {
    spam_message out;
    auto [head, body] = mime::split(message);
    auto fields = mime::parse_fields(head);
    for (const auto& f : fields) {
        if (out.headers.size() >= lim.max_header_fields) break;
        std::string name = lower(mime::trim(f.name));
        std::string value = decode_encoded_words(
            mime::trim(std::string_view(f.value).substr(0, lim.max_field_bytes)));
        if (name == "from" && out.from_address.empty()) {
            out.from_address = first_address(f.value);
            if (auto at = out.from_address.rfind('@'); at != std::string::npos)
                out.from_domain = out.from_address.substr(at + 1);
        }
        out.headers.emplace_back(std::move(name), std::move(value));
    }
    walker w{lim, out};
    w.walk(message, 0);
    return out;
}

std::string strip_spam_fields(std::string_view message, std::size_t* removed) {
    std::string out;
    out.reserve(message.size());
    std::size_t pos = 0, n = 0;
    bool dropping = false;
    while (pos < message.size()) {
        auto eol = message.find('\n', pos);
        std::size_t next = eol == std::string_view::npos ? message.size() : eol + 1;
        std::string_view line = message.substr(pos, next - pos);
        if (line == "\r\n" || line == "\n") break; // end of the header section
        const bool continuation = line[0] == ' ' || line[0] == '\t';
        if (!continuation) {
            dropping = starts_with_ci(line, "x-spam-");
            if (dropping) ++n;
        }
        if (!dropping) out.append(line);
        pos = next;
    }
    out.append(message.substr(pos));
    if (removed) *removed = n;
    return out;
}

} // namespace cartero::policy
