// daemon/smtp/esmtp_params.hpp — MAIL FROM / RCPT TO argument parsing: path + ESMTP parameters.
#pragma once

#include "daemon/smtp/path_parser.hpp"
#include "daemon/smtp/server_fsm.hpp"

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

} // namespace cartero::smtp
