// daemon/smtp/command_parser.hpp — the SMTP command table and the split of a line into verb + args.
#pragma once

#include <cstdint>
#include <string_view>

namespace cartero::smtp {

enum class verb : std::uint8_t {
    ehlo, helo, mail, rcpt, data, bdat, rset, noop, quit, help, vrfy, expn, starttls, auth,
};

// Where the session is, as far as the command table cares. A bit mask so that the table can
// list several states per verb.
enum session_state : std::uint8_t {
    st_initial = 1 << 0, // no EHLO/HELO yet (or after STARTTLS, RFC 3207 §4.2)
    st_helo = 1 << 1,    // greeted, no transaction
    st_mail = 1 << 2,    // MAIL accepted, no recipient yet
    st_rcpt = 1 << 3,    // at least one recipient accepted
    st_bdat = 1 << 4,    // BDAT chunks under way (RFC 3030 §3: only BDAT/RSET/QUIT/NOOP fit)
    st_any = st_initial | st_helo | st_mail | st_rcpt | st_bdat,
};

// How a verb relates to TLS.
enum class tls_rule : std::uint8_t {
    any,         // allowed with or without TLS
    before_tls,  // refused once TLS is active (STARTTLS: 503 5.5.1)
    needs_tls,   // refused in plaintext (AUTH: 538 5.7.11, RFC 4954 §4 + §6)
};

// Which line limit applies (server_settings): plain commands 512 octets (RFC 5321
// §4.5.3.1.4), MAIL/RCPT with parameters longer (RFC 1870/3461/6531), AUTH 12288 (RFC 4954 §4).
enum class line_class : std::uint8_t { command, mail_rcpt, auth };

// One row of the command table (Postfix's smtpd_cmd_table shape).
struct command_spec {
    verb v;
    std::string_view name;   // upper case, as advertised
    std::uint8_t allowed;    // session_state mask; elsewhere → 503 5.5.1 (bad sequence)
    tls_rule tls;
    bool counts_bad;         // a 5xx reply to it counts toward max_bad_commands
    line_class limit;
    bool takes_args;         // false: any argument → 501 5.5.4
};

// The table lookup (case-insensitive, RFC 5321 §2.4). nullptr for an unknown verb.
const command_spec* find_command(std::string_view verb_text);

// Which line limit applies to a line that starts with `prefix` (maybe incomplete): lets the
// reader refuse an over-long line before its LF has arrived.
line_class line_class_for(std::string_view prefix);

struct command_line {
    std::string_view verb_text; // as written
    std::string_view args;      // after the separating space(s), trailing spaces removed
    const command_spec* spec = nullptr; // nullptr: unknown verb
};

// Splits a command line (without its CRLF). RFC 5321 §4.1.1: verb SP args; we tolerate several
// spaces and trailing whitespace, as deployed clients send them.
command_line parse_command_line(std::string_view line);

bool iequals(std::string_view a, std::string_view b);
bool istarts_with(std::string_view s, std::string_view prefix);

} // namespace cartero::smtp
