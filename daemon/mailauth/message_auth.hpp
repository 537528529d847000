// daemon/mailauth/message_auth.hpp — one inbound message through SPF (MAIL FROM and HELO), DKIM
// and DMARC with DNS from a dns::resolver, within a total time budget; the Authentication-Results
// field to prepend and the verdict. Blocking: run it on a worker thread, never on the io thread.
#pragma once

#include "core/dns/resolver.hpp"
#include "daemon/mailauth/auth_results.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace cartero::mailauth {

struct message_auth_request {
    std::string client_ip;
    std::string helo;
    std::string mail_from; // "" for <>
    std::string hostname;  // authserv-id and %{r}
    std::string message_key; // queue id: DMARC pct sampling
    std::int64_t now = 0;
    std::chrono::milliseconds budget{20000}; // for all DNS together (RFC 7208 §4.6.4: ~20 s)
};

struct message_auth_result {
    spf_outcome spf_mail_from, spf_helo;
    std::vector<dkim_result> dkim;
    dmarc_outcome dmarc;
    std::string header; // the Authentication-Results field, CRLF-terminated
    bool budget_exhausted = false; // some lookup was cut short (its check says temperror)
    // "pass"/"fail"/... summaries for the log line
    std::string spf_word() const;
    std::string dkim_word() const; // the best result: pass > fail > ... ; "none" unsigned
};

// Never throws for DNS trouble: lookups past the budget, timeouts and SERVFAIL become the
// checks' temperror. `message` is CRLF, as received (before our Received field is added).
message_auth_result authenticate_message(dns::resolver& resolver, std::string_view message,
                                         const message_auth_request& rq);

} // namespace cartero::mailauth
