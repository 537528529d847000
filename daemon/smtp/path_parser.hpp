// daemon/smtp/path_parser.hpp — RFC 5321 §4.1.2 Path/Mailbox parser (with RFC 6531 UTF-8).
#pragma once

#include "daemon/smtp/server_fsm.hpp"

#include <cstddef>
#include <string_view>

namespace cartero::smtp {

enum class path_kind {
    reverse, // MAIL FROM: "<>" allowed
    forward, // RCPT TO: bare "<Postmaster>" allowed (RFC 5321 §4.1.1.3)
};

enum class path_error {
    none,
    syntax,           // not a Path
    too_long,         // path > 256 octets (RFC 5321 §4.5.3.1.3)
    local_too_long,   // local part > 64 octets (RFC 5321 §4.5.3.1.1)
    domain_too_long,  // domain > 255 octets or a label > 63 (RFC 5321 §4.5.3.1.2, RFC 1035)
    bad_utf8,         // malformed UTF-8 (RFC 3629)
    unsupported_literal, // General-address-literal (RFC 5321 §4.1.3): nothing routes to it
};

struct path_result {
    path_error error = path_error::none;
    path value;
    std::size_t length = 0; // octets consumed, "<" through ">"
    bool utf8 = false;      // non-ASCII octets present: needs SMTPUTF8 (RFC 6531 §3.2)
    bool ok() const { return error == path_error::none; }
};

// Parses a path that starts at in[0] == '<'. The rest of `in` (parameters) is not examined.
path_result parse_path(std::string_view in, path_kind kind);

// Building blocks, exposed for tests and other parsers.
bool is_dot_string(std::string_view s);      // RFC 5321 Dot-string (UTF-8 atext allowed)
bool is_domain(std::string_view s);          // RFC 5321 Domain (U-labels allowed)
bool is_ipv4_literal(std::string_view s);    // "1.2.3.4"
bool is_ipv6_literal(std::string_view s);    // the part after "IPv6:"
bool is_valid_utf8(std::string_view s);

} // namespace cartero::smtp
