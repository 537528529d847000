// core/dns/query_name.hpp — a caller's name (Unicode, underscores, hostile bytes) made fit for
// the wire, or the reason why it cannot be.
#pragma once

#include "core/parsed.hpp"

#include <string>
#include <string_view>

namespace cartero::dns {

// Returns the name to query: lower-case ASCII, labels joined by '.', no trailing dot ("." alone
// for the root). Accepted:
// - ASCII names of letters, digits, '-' and '_' (underscore labels such as _dmarc or
//   sel._domainkey are service names, RFC 8552, which normalize_domain refuses), one optional
//   trailing dot, labels of 1–63 octets, at most 253 octets in all (RFC 1035 §2.3.4);
// - Unicode names: leading underscore labels are kept as they are, the rest goes through
//   names::normalize_domain (IDNA A-labels, RFC 5891).
// Refused with a reason: empty names, empty labels, long labels or names, control characters,
// spaces and other punctuation, invalid UTF-8. Never throws.
parsed<std::string> query_name(std::string_view name);

} // namespace cartero::dns
