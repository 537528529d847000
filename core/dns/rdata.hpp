// core/dns/rdata.hpp — wire-format RDATA to the presentation strings that dns::answer carries.
#pragma once

#include "core/dns/resolver.hpp"

#include <cstddef>
#include <optional>
#include <string>

namespace cartero::dns {

// Formats one RR's RDATA (without the RDLENGTH field, names uncompressed as libunbound hands
// them over) as documented on dns::answer::records. Domain names come out absolute with their
// trailing dot, letter case as served, and RFC 1035 §5.1 escapes (\. \\ \DDD) for octets that
// are not printable or would change the meaning. nullopt when the RDATA is malformed (short,
// trailing bytes, a compression pointer): the caller drops that record rather than guess.
std::optional<std::string> format_rdata(rr_type type, const unsigned char* data, std::size_t len);

} // namespace cartero::dns
