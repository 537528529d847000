// core/dns_check.hpp — published vs expected: looks up one expected DNS record and says whether
// it is there ("ok"), absent ("missing"), there with another value ("different") or could not
// be asked ("error"); PTRs are also forward-confirmed (FCrDNS). Used by the panel's DNS and
// reputation pages; the same rules as `carteroctl dns check` (provisioning/cmd_provision.cpp).
#pragma once

#include "core/dns/resolver.hpp"
#include "core/dns_records.hpp"

#include <string>

namespace cartero::dns {

struct record_check {
    std::string state; // "ok", "missing", "different", "error"
    std::string found; // the related values found (" | "-separated), or the error text
};

// TXT values are compared exactly and only TXT records starting like the expected one
// ("v=spf1", "v=DMARC1", "v=DKIM1") count as "different" (a site-verification TXT at the same
// name is ignored); names in MX/SRV/CNAME/PTR values compare case-insensitively (RFC 4343).
record_check check_record(resolver& res, const dns_record& want);

// The PTR of `address` must be `hostname.` and `hostname` must resolve back to `address`.
// A PTR that is right but not forward-confirmed is "different" with the reason in `found`.
record_check check_ptr(resolver& res, const std::string& address, int family,
                       const std::string& hostname);

} // namespace cartero::dns
