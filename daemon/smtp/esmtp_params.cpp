// daemon/smtp/esmtp_params.cpp — MAIL FROM / RCPT TO argument parsing.
#include "daemon/smtp/esmtp_params.hpp"

#include "daemon/smtp/command_parser.hpp"

namespace cartero::smtp {

namespace {

bool is_alnum(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool is_value_char(unsigned char c) { return (c >= 33 && c <= 126 && c != '=') || c >= 0x80; }

char upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

} // namespace

bool parse_esmtp_params(std::string_view s, std::vector<esmtp_param>& out) {
    std::size_t i = 0;
    while (true) {
        while (i < s.size() && s[i] == ' ') ++i;
        if (i >= s.size()) return true;
        std::size_t end = s.find(' ', i);
        if (end == std::string_view::npos) end = s.size();
        std::string_view tok = s.substr(i, end - i);
        i = end;
        std::size_t eq = tok.find('=');
        std::string_view key = tok.substr(0, eq);
        if (key.empty() || !is_alnum(static_cast<unsigned char>(key.front()))) return false;
        esmtp_param p;
        for (char c : key) {
            if (!is_alnum(static_cast<unsigned char>(c)) && c != '-') return false;
            p.keyword += upper(c);
        }
        if (eq != std::string_view::npos) {
            std::string_view value = tok.substr(eq + 1);
            if (value.empty()) return false; // "KEY=" has no value: 1*(...) in the grammar
            for (char c : value)
                if (!is_value_char(static_cast<unsigned char>(c))) return false;
            p.value.assign(value);
        }
        out.push_back(std::move(p));
    }
}

mail_rcpt_args parse_mail_rcpt_args(std::string_view args, std::string_view keyword,
                                    path_kind kind) {
    mail_rcpt_args r;
    if (!istarts_with(args, keyword)) {
        r.error = args_error::syntax;
        return r;
    }
    args.remove_prefix(keyword.size());
    if (!args.empty() && args.front() == ' ') args.remove_prefix(1);
    if (args.empty() || args.front() != '<') {
        r.error = args_error::syntax; // RFC 5321 §4.1.2: the angle brackets are required
        return r;
    }
    r.path = parse_path(args, kind);
    if (!r.path.ok()) {
        r.error = args_error::bad_path;
        return r;
    }
    args.remove_prefix(r.path.length);
    if (!args.empty() && args.front() != ' ') { // "<a@b>X": parameters need a separating SP
        r.error = args_error::syntax;
        return r;
    }
    if (!parse_esmtp_params(args, r.params)) r.error = args_error::bad_params;
    return r;
}

} // namespace cartero::smtp
