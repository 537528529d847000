// core/dns/resolver.hpp — the DNS resolver interface (async, thread-safe) and answer helpers.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace cartero::dns {

// Query types Cartero asks for (values are the IANA RR type codes, RFC 1035 §3.2.2 and later).
enum class rr_type {
    a = 1, ns = 2, cname = 5, ptr = 12, mx = 15, txt = 16, aaaa = 28, srv = 33, tlsa = 52
};

// What a lookup came to. For mail (issue 3 "DNS"): nxdomain → bounce; servfail/timeout → retry;
// nodata for MX → implicit MX (RFC 5321 §5.1); error → the name could not be asked at all
// (hostile or malformed input, resolver stopped, libunbound failure) — `why` says which.
enum class status { ok, nxdomain, nodata, servfail, timeout, error };

std::string_view to_string(status s); // "ok", "nxdomain", ...
std::string_view to_string(rr_type t); // "A", "MX", ...

struct answer {
    status st = status::error;
    // Presentation format per type: A "192.0.2.1", AAAA "2001:db8::1",
    // MX "10 mx1.example.com." (preference, space, FQDN with the dot; null MX "0 ."),
    // TXT the record's character-strings concatenated, unquoted (one entry per TXT RR),
    // PTR/NS/CNAME "host.example.com.", SRV "prio weight port target.",
    // TLSA "usage selector mtype hex" (RFC 6698 §2.2, lower-case hex).
    std::vector<std::string> records;
    bool secure = false; // DNSSEC-validated (only when validation is on)
    std::string why;     // for errors: one line a person can act on
    bool ok() const { return st == status::ok; }
};

struct resolver_settings {
    // "127.0.0.1:5300" / "[::1]:53": every query goes there (tests: a Knot on loopback);
    // empty: the system's /etc/resolv.conf.
    std::string forward_to;
    std::chrono::milliseconds timeout{5000};
    bool dnssec = false; // validate with the root trust anchor (when available) — off by default
};

// The contract:
// - lookup() blocks until the answer, at most about `timeout`; it may be called from any thread
//   except from inside a `done` callback (that would wait on itself: it returns status::error).
// - async_lookup() never blocks and never calls `done` before returning; `done` runs exactly
//   once, on the resolver's own thread, with callbacks run one at a time. Keep `done` short and
//   post the answer to your own executor. async_lookup() may be called from inside `done`.
// - Every lookup ends within its timeout: status::timeout when no answer came in time.
// - Destroying the resolver finishes every pending lookup with status::error "resolver
//   stopped" (on the resolver's thread, before the destructor returns). Do not destroy it from
//   inside a `done` callback.
// - Names may be Unicode (converted to IDNA A-labels) and may carry underscore labels
//   (_dmarc.example.com, sel._domainkey.example.com); a trailing dot is optional. A name that
//   cannot be queried (empty, too long, a label over 63 octets, control characters, bad UTF-8)
//   is answered with status::error and a reason; nothing throws.
class resolver {
public:
    virtual ~resolver() = default;
    // Blocking, thread-safe.
    virtual answer lookup(std::string_view name, rr_type type) = 0;
    // `done` runs on the resolver's own thread (callers post back to theirs).
    virtual void async_lookup(std::string_view name, rr_type type,
                              std::function<void(answer)> done) = 0;
};

// A libunbound resolver (core/dns/unbound_resolver.cpp). Throws std::runtime_error with a clear
// message when `s` is unusable (forward_to not ADDR:PORT, timeout not positive) or libunbound
// cannot be set up (no /etc/resolv.conf nameserver is not an error: libunbound then recurses).
std::unique_ptr<resolver> make_resolver(const resolver_settings& s);

// Helpers over answers:
struct mx_host {
    std::uint16_t preference;
    std::string host; // without the trailing dot; "" for the root (null MX)
};
// Sorted by preference; RFC 5321 §5.1: random order among equals. Skips malformed records.
std::vector<mx_host> parse_mx(const answer& a);
// RFC 7505: a single "0 ." record.
bool is_null_mx(const std::vector<mx_host>& mx);
// "192.0.2.1" -> "1.2.0.192.in-addr.arpa", IPv6 nibbles -> ip6.arpa; "" when not an IP address.
std::string reverse_name(std::string_view ip);

} // namespace cartero::dns
