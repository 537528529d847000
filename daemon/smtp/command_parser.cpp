// daemon/smtp/command_parser.cpp — the SMTP command table (one row per verb) and line splitting.
#include "daemon/smtp/command_parser.hpp"

#include <array>

namespace cartero::smtp {

namespace {

// verb, name, allowed states, TLS rule, counts toward the bad-command limit, line limit, args.
// MAIL/RCPT/DATA/AUTH/STARTTLS states: RFC 5321 §4.1.4 (order of commands), RFC 3030 §3
// (nothing but BDAT/RSET/NOOP/QUIT inside a BDAT transaction), RFC 4954 §4 (no AUTH inside a
// transaction), RFC 3207 §4 (STARTTLS after EHLO, not inside a transaction).
// BDAT is allowed everywhere here because its chunk must be consumed before any 503 is sent
// (RFC 3030 §3); server_fsm checks its state itself.
constexpr std::array<command_spec, 14> table{{
    {verb::ehlo, "EHLO", st_any, tls_rule::any, true, line_class::command, true},
    {verb::helo, "HELO", st_any, tls_rule::any, true, line_class::command, true},
    {verb::mail, "MAIL", st_helo, tls_rule::any, true, line_class::mail_rcpt, true},
    {verb::rcpt, "RCPT", st_mail | st_rcpt, tls_rule::any, true, line_class::mail_rcpt, true},
    {verb::data, "DATA", st_rcpt, tls_rule::any, true, line_class::command, false},
    {verb::bdat, "BDAT", st_any, tls_rule::any, true, line_class::command, true},
    {verb::rset, "RSET", st_any, tls_rule::any, false, line_class::command, false},
    {verb::noop, "NOOP", st_any, tls_rule::any, false, line_class::command, true},
    {verb::quit, "QUIT", st_any, tls_rule::any, false, line_class::command, true},
    {verb::help, "HELP", st_any, tls_rule::any, false, line_class::command, true},
    {verb::vrfy, "VRFY", st_any & ~st_bdat, tls_rule::any, true, line_class::command, true},
    {verb::expn, "EXPN", st_any & ~st_bdat, tls_rule::any, true, line_class::command, true},
    {verb::starttls, "STARTTLS", st_helo, tls_rule::before_tls, true, line_class::command, false},
    {verb::auth, "AUTH", st_helo, tls_rule::needs_tls, true, line_class::auth, true},
}};

char upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

bool is_space(char c) { return c == ' ' || c == '\t'; }

} // namespace

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (upper(a[i]) != upper(b[i])) return false;
    return true;
}

bool istarts_with(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

const command_spec* find_command(std::string_view verb_text) {
    for (const auto& row : table)
        if (iequals(row.name, verb_text)) return &row;
    return nullptr;
}

line_class line_class_for(std::string_view prefix) {
    if (istarts_with(prefix, "MAIL ") || istarts_with(prefix, "RCPT ")) return line_class::mail_rcpt;
    if (istarts_with(prefix, "AUTH ")) return line_class::auth;
    return line_class::command;
}

command_line parse_command_line(std::string_view line) {
    command_line out;
    while (!line.empty() && is_space(line.back())) line.remove_suffix(1);
    std::size_t sp = 0;
    while (sp < line.size() && line[sp] != ' ') ++sp;
    out.verb_text = line.substr(0, sp);
    std::size_t a = sp;
    while (a < line.size() && is_space(line[a])) ++a;
    out.args = line.substr(a);
    out.spec = find_command(out.verb_text);
    return out;
}

} // namespace cartero::smtp
