// daemon/mailauth/auth_results.hpp — the Authentication-Results header field (RFC 8601) for SPF,
// DKIM and DMARC, and the removal of incoming ones that claim our authserv-id (§5).
#pragma once

#include "daemon/mailauth/dkim_verifier.hpp"
#include "daemon/mailauth/dmarc.hpp"
#include "daemon/mailauth/spf.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cartero::mailauth {

struct auth_results_input {
    std::string authserv_id;  // our host name
    std::string mail_from;    // envelope sender, "" for <>
    std::string helo;
    std::optional<spf_outcome> spf_mail_from; // absent: not checked
    std::optional<spf_outcome> spf_helo;
    std::vector<dkim_result> dkim; // empty: dkim=none
    std::optional<dmarc_outcome> dmarc;
};

// "Authentication-Results: <id>;\r\n\tspf=... smtp.mailfrom=...;\r\n\tdkim=... header.d=...
// header.i=... header.s=... header.b=...;\r\n\tdmarc=... (p=...) header.from=...\r\n" — one
// resinfo per line, ending in CRLF. Property values that are not RFC 8601 tokens (or
// local-part@domain) are quoted.
std::string render_auth_results(const auth_results_input& in);

// The authserv-id an Authentication-Results field value claims (the first token, comments
// skipped), lower-case; "" when none can be read.
std::string authserv_id_of(std::string_view field_value);

// RFC 8601 §5: `message` (CRLF, header then body) without the Authentication-Results fields
// whose authserv-id is `ours` (case-insensitive). `removed` counts them. The body and the
// other fields are kept byte for byte.
std::string strip_forged_auth_results(std::string_view message, std::string_view ours,
                                      std::size_t* removed = nullptr);

// RFC 5322 From: the domains of its addresses (lower-case), in order; what DMARC calls the
// author domain. Empty when the message has no From field or no address in it; several
// From fields contribute all their addresses.
std::vector<std::string> from_domains(std::string_view message);

} // namespace cartero::mailauth
