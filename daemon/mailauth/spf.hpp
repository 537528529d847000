// daemon/mailauth/spf.hpp — SPF (RFC 7208) check_host() over a caller's DNS lookup (no I/O here):
// every mechanism and modifier, macros (§7), the lookup limits (§4.6.4), HELO and MAIL FROM.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace cartero::mailauth {

// RFC 7208 §2.6 results.
enum class spf_result { none, neutral, pass, fail, softfail, temperror, permerror };
std::string_view to_string(spf_result r);

enum class spf_query { txt, a, aaaa, mx, ptr };

// What a lookup found. `ok` with no records is NODATA; both it and `nxdomain` are "void"
// lookups (§4.6.4). Records: TXT — one entry per RR, its strings concatenated; A/AAAA —
// addresses; MX — the exchange names (no preference, trailing dot optional); PTR — names.
struct spf_dns_reply {
    enum class status { ok, nxdomain, temporary } status = status::ok;
    std::vector<std::string> records;
};
// Called with a lower-case name without trailing dot. It must end in bounded time: a budget
// exhausted is `temporary` (→ temperror).
using spf_lookup = std::function<spf_dns_reply(std::string_view name, spf_query type)>;

struct spf_request {
    std::string ip;        // the client's address, "192.0.2.1" / "2001:db8::1"
    std::string mail_from; // the envelope sender; "" for the null sender
    std::string helo;      // the EHLO/HELO argument
    std::string receiver = "unknown"; // %{r}: our host name
    std::int64_t now = 0;  // %{t}: Unix seconds
};

struct spf_outcome {
    spf_result result = spf_result::none;
    std::string domain;      // the domain checked (MAIL FROM domain or HELO name)
    std::string sender;      // <sender> as evaluated ("postmaster@helo" for the null sender)
    std::string mechanism;   // the directive that matched, "default" (none did), or ""
    std::string problem;     // permerror/temperror: why, one line
    std::string explanation; // fail: the exp= text when the domain published one
    int dns_terms = 0;       // DNS-querying terms evaluated (limit 10)
    int void_lookups = 0;    // limit 2
};

struct spf_limits {
    int max_dns_terms = 10; // include a mx ptr exists redirect (§4.6.4)
    int max_void_lookups = 2;
    std::size_t max_mx_names = 10; // more MX names than this is permerror
    std::size_t max_ptr_names = 10; // PTR names beyond this are ignored
};

class spf_checker {
  public:
    explicit spf_checker(spf_lookup lookup, spf_limits limits = {});

    // §4: check_host(<ip>, <domain>, <sender>); `helo` feeds %{h}. A malformed or single-label
    // <domain> is `none` (§4.3). An unparsable <ip> is permerror.
    spf_outcome check_host(const spf_request& rq, std::string_view domain,
                           std::string_view sender) const;
    // §2.4: MAIL FROM identity; the null sender is checked as "postmaster@<helo>".
    spf_outcome check_mail_from(const spf_request& rq) const;
    // §2.3: HELO identity: <domain> = the HELO name, <sender> = "postmaster@<helo>". A HELO
    // that is an address literal or has no dot is `none` (not a domain to check).
    spf_outcome check_helo(const spf_request& rq) const;

  private:
    spf_lookup lookup_;
    spf_limits limits_;
};

} // namespace cartero::mailauth
