// daemon/mailauth/dmarc.hpp — DMARC (RFC 7489): policy discovery, identifier alignment, the
// verdict and the policy to apply; DNS through a caller's TXT lookup (no I/O here).
#pragma once

#include "daemon/mailauth/dkim_verifier.hpp"
#include "daemon/mailauth/spf.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cartero::mailauth {

enum class dmarc_policy { none, quarantine, reject };
enum class dmarc_status { pass, fail, none, temperror, permerror }; // RFC 8601 §2.7.x words
std::string_view to_string(dmarc_policy p);
std::string_view to_string(dmarc_status s);

// §6.3 tags. Unknown tags are ignored; rua/ruf are kept (not used: no reports are sent).
struct dmarc_record {
    dmarc_policy p = dmarc_policy::none;
    std::optional<dmarc_policy> sp; // absent: p applies to subdomains too
    int pct = 100;
    bool adkim_strict = false, aspf_strict = false;
    std::vector<std::string> rua, ruf;
};

// "v=DMARC1; p=reject; ..." → the record, or nullopt with `why` (not a DMARC record, or a
// syntax error in a tag we use). §6.6.3 step 6: a bad or missing p= with a valid rua= is read
// as p=none.
std::optional<dmarc_record> parse_dmarc_record(std::string_view txt, std::string* why = nullptr);

// §3.2: the organisational domain — the registrable domain by the public suffix list (libpsl,
// the newest of its built-in list and Debian's publicsuffix file); the name itself when it is
// a public suffix or cannot be parsed. Lower-case, no trailing dot. Thread-safe.
std::string organizational_domain(std::string_view domain);

// §3.1: relaxed = same organisational domain; strict = equal (case-insensitively).
bool aligned(std::string_view a, std::string_view b, bool strict);

struct dmarc_input {
    std::string from_domain;  // RFC5322.From domain; "" when the message has none
    int from_domains = 1;     // number of From addresses/domains (≠ 1: permerror, §6.6.1)
    spf_result spf = spf_result::none;
    std::string spf_domain;   // the MAIL FROM domain SPF checked (HELO name for <>)
    std::vector<dkim_result> dkim;
    std::string message_key;  // stable per message (queue id): pct sampling hashes it
};

struct dmarc_outcome {
    dmarc_status status = dmarc_status::none;
    std::string from_domain;   // header.from
    std::string record_domain; // where the policy was found ("" for none)
    dmarc_policy requested = dmarc_policy::none; // p or sp
    dmarc_policy applied = dmarc_policy::none;   // after pct; `none` unless status is fail
    bool spf_aligned = false, dkim_aligned = false;
    std::string problem; // one line for temperror/permerror and logs
    dmarc_record record;
};

// §6.6.2–§6.6.4. `txt` is asked for "_dmarc.<From domain>" and, when that has no record,
// "_dmarc.<organisational domain>". DKIM results count when `pass` on a key not in testing
// mode and without l= (issue 4: l= is never trusted to cover the whole message).
dmarc_outcome evaluate_dmarc(const dmarc_input& in, const key_lookup& txt);

} // namespace cartero::mailauth
