// daemon/smtp/esmtp_params.hpp — MAIL FROM / RCPT TO argument parsing: path + ESMTP parameters.
#pragma once

#include "daemon/smtp/path_parser.hpp"
#include "daemon/smtp/server_fsm.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cartero::smtp {

enum class args_error {
    none,
    syntax,     // no "FROM:"/"TO:", no "<...>": 501 5.5.4
    bad_path,   // the path itself is wrong (see path.error): 501 5.1.7 / 5.1.3
    bad_params, // parameter syntax (not an unknown keyword): 501 5.5.4
};

struct mail_rcpt_args {
    args_error error = args_error::none;
    path_result path;
    std::vector<esmtp_param> params;
};

// `args` is what follows "MAIL " or "RCPT "; `keyword` is "FROM:" or "TO:" (case-insensitive).
// One space after the colon is tolerated (deployed clients send it, RFC 5321 §4.1.1.2 does not).
mail_rcpt_args parse_mail_rcpt_args(std::string_view args, std::string_view keyword,
                                    path_kind kind);

// RFC 5321 §4.1.2: esmtp-param *(SP esmtp-param); esmtp-keyword = (ALPHA / DIGIT)
// *(ALPHA / DIGIT / "-"); esmtp-value = 1*(%d33-60 / %d62-126), UTF-8 allowed (RFC 6531 §3.3).
// Keywords are upper-cased. Several spaces between parameters are tolerated.
bool parse_esmtp_params(std::string_view s, std::vector<esmtp_param>& out);

// RFC 3461 §4: xtext = *( xchar / hexchar ); xchar = "!".."~" except "+" and "=";
// hexchar = "+" 2HEXDIG (upper case per the RFC; lower case tolerated). nullopt when malformed.
std::optional<std::string> xtext_decode(std::string_view s);

// RFC 3461 §4.1: NOTIFY=NEVER, or a comma list of SUCCESS, FAILURE, DELAY (each at most once,
// NEVER only alone), case-insensitive. Returns the upper-cased list ("FAILURE,DELAY");
// nullopt when invalid.
std::optional<std::string> parse_notify(std::string_view value);

// RFC 3461 §4.2 (+ RFC 6533 §3 for "utf-8"): ORCPT=addr-type ";" xtext with addr-type rfc822
// or utf-8 (case-insensitive), at most 500 characters. Returns the decoded address (utf-8-addr
// "\x{HEX}" escapes decoded too); nullopt when invalid or empty.
std::optional<std::string> parse_orcpt(std::string_view value);

} // namespace cartero::smtp
