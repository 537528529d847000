// daemon/smtp/reply_parser.cpp — SMTP reply reading for the client: lines, codes, enhanced codes.
#include "daemon/smtp/reply_parser.hpp"

#include <cstring>

namespace cartero::smtp {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string printable(std::string_view s) {
    std::string out;
    for (char c : s.substr(0, 60)) {
        auto u = static_cast<unsigned char>(c);
        out += (u < 0x20 || u == 0x7f) ? '?' : c;
    }
    if (s.size() > 60) out += "...";
    return out;
}

} // namespace

remote_reply remote_reply::synthetic(int code, std::string enhanced, std::string text) {
    remote_reply rr;
    rr.r = reply(code, std::move(enhanced), std::move(text));
    rr.verbatim = rr.r.summary();
    rr.local = true;
    return rr;
}

std::string remote_reply::one_line() const {
    std::string out;
    std::size_t start = 0;
    while (start <= verbatim.size()) {
        std::size_t e = verbatim.find("\r\n", start);
        if (!out.empty()) out += ' ';
        out += verbatim.substr(start, e == std::string::npos ? std::string::npos : e - start);
        if (e == std::string::npos) break;
        start = e + 2;
    }
    return out;
}

std::size_t enhanced_code_length(std::string_view t) {
    // RFC 3463 §2: class "." subject "." detail; subject and detail 1-3 digits, no leading zeros
    // rule enforced (servers write "5.1.01" rarely enough not to matter).
    if (t.size() < 5 || (t[0] != '2' && t[0] != '4' && t[0] != '5') || t[1] != '.') return 0;
    std::size_t i = 2, n = 0;
    while (i < t.size() && is_digit(t[i]) && n < 3) ++i, ++n;
    if (n == 0 || i >= t.size() || t[i] != '.') return 0;
    ++i;
    n = 0;
    while (i < t.size() && is_digit(t[i]) && n < 3) ++i, ++n;
    if (n == 0) return 0;
    if (i < t.size() && t[i] != ' ' && t[i] != '\t') return 0; // "5.1.1x" is not a code
    return i;
}

void reply_parser::reset() { lines_.clear(); }

reply_parser::result reply_parser::take(std::string_view in, std::size_t& pos) {
    result res;
    while (true) {
        std::string_view view = in.substr(pos);
        const auto* lf = static_cast<const char*>(std::memchr(view.data(), '\n', view.size()));
        if (!lf) {
            // RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets with its CRLF.
            if (view.size() >= max_line_) {
                res.st = status::error;
                res.error = "reply line longer than " + std::to_string(max_line_) + " octets";
            }
            return res;
        }
        std::size_t len = static_cast<std::size_t>(lf - view.data()) + 1;
        if (len > max_line_) {
            res.st = status::error;
            res.error = "reply line longer than " + std::to_string(max_line_) + " octets";
            return res;
        }
        std::string_view line = view.substr(0, len - 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        pos += len;

        // RFC 5321 §4.2: Reply-line = *( Reply-code "-" [ textstring ] CRLF )
        //                              Reply-code [ SP textstring ] CRLF
        bool ok = line.size() >= 3 && line[0] >= '2' && line[0] <= '5' && line[1] >= '0' &&
                  line[1] <= '5' && is_digit(line[2]) &&
                  (line.size() == 3 || line[3] == ' ' || line[3] == '-');
        if (!ok) {
            res.st = status::error;
            res.error = "malformed reply line '" + printable(line) + "'";
            lines_.clear();
            return res;
        }
        if (!lines_.empty() && lines_.front().compare(0, 3, line.substr(0, 3)) != 0) {
            res.st = status::error;
            res.error = "mixed reply codes " + lines_.front().substr(0, 3) + " and " +
                        std::string(line.substr(0, 3));
            lines_.clear();
            return res;
        }
        lines_.emplace_back(line);
        if (lines_.size() > max_lines_) {
            res.st = status::error;
            res.error = "reply longer than " + std::to_string(max_lines_) + " lines";
            lines_.clear();
            return res;
        }
        if (line.size() > 3 && line[3] == '-') continue; // continuation

        // Complete.
        remote_reply& rr = res.reply;
        rr.r.code = (lines_[0][0] - '0') * 100 + (lines_[0][1] - '0') * 10 + (lines_[0][2] - '0');
        // RFC 2034 §4 puts the code on every line; a server that gives it on the last line only
        // still means it. RFC 3463 §2: the class must agree with the reply code's first digit.
        for (const std::string* l : {&lines_.front(), &lines_.back()}) {
            std::string_view text = l->size() > 4 ? std::string_view(*l).substr(4) : "";
            std::size_t el = enhanced_code_length(text);
            if (el != 0 && text[0] == (*l)[0]) {
                rr.r.enhanced = std::string(text.substr(0, el));
                break;
            }
        }
        for (std::size_t i = 0; i < lines_.size(); ++i) {
            std::string_view text =
                lines_[i].size() > 4 ? std::string_view(lines_[i]).substr(4) : std::string_view();
            if (!rr.r.enhanced.empty() && text.substr(0, rr.r.enhanced.size()) == rr.r.enhanced &&
                enhanced_code_length(text) == rr.r.enhanced.size()) {
                text.remove_prefix(rr.r.enhanced.size());
                while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
                    text.remove_prefix(1);
            }
            rr.r.lines.emplace_back(text);
            if (i) rr.verbatim += "\r\n";
            rr.verbatim += lines_[i];
        }
        lines_.clear();
        res.st = status::complete;
        return res;
    }
}

} // namespace cartero::smtp
