// core/daemon_settings.cpp — the settings table and its parser, validator and renderer.
#include "core/daemon_settings.hpp"

#include "core/address_norm.hpp"
#include "core/dns/forwarder.hpp"
#include "core/size_parse.hpp"

#include <arpa/inet.h>

#include <cstring>
#include <fstream>
#include <sstream>

namespace cartero::config {
namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
        s.remove_suffix(1);
    return s;
}

// Decimal digits only, at most `max`.
parsed<std::uint64_t> parse_uint(std::string_view v, std::uint64_t max, std::string_view what) {
    using r = parsed<std::uint64_t>;
    if (v.empty()) return r::failure(std::string(what) + " is empty");
    std::uint64_t n = 0;
    for (char c : v) {
        if (c < '0' || c > '9')
            return r::failure(std::string(what) + " " + quoted(v) + " is not a whole number");
        n = n * 10 + static_cast<std::uint64_t>(c - '0');
        if (n > max) return r::failure(std::string(what) + " " + quoted(v) + " is too large");
    }
    return r::success(n);
}

parsed<std::uint16_t> parse_port(std::string_view v) {
    auto p = parse_uint(v, 65535, "port");
    if (!p) return parsed<std::uint16_t>::failure(p.error);
    if (p.value == 0) return parsed<std::uint16_t>::failure("port 0 is not a usable port");
    return parsed<std::uint16_t>::success(static_cast<std::uint16_t>(p.value));
}

// Parses an IP address; returns the canonical text (inet_ntop) or "".
std::string canonical_ip(std::string_view text, bool v6, std::uint8_t* bytes = nullptr) {
    if (text.empty() || text.size() > 64) return {};
    std::string z(text);
    unsigned char buf[16] = {};
    if (inet_pton(v6 ? AF_INET6 : AF_INET, z.c_str(), buf) != 1) return {};
    char out[INET6_ADDRSTRLEN] = {};
    if (!inet_ntop(v6 ? AF_INET6 : AF_INET, buf, out, sizeof out)) return {};
    if (bytes) std::memcpy(bytes, buf, v6 ? 16 : 4);
    return out;
}

// ---- one table row per setting -------------------------------------------------------------

struct row;
using setter = std::string (*)(const row&, daemon_settings&, std::string_view);
using getter = std::vector<std::string> (*)(const daemon_settings&);

struct row {
    setting_doc doc;
    setter set;
    getter get;
};

std::string bounds_error(const row& r, std::string_view shown, std::string lo, std::string hi) {
    return std::string(r.doc.name) + " " + quoted(shown) + " is out of range (" + lo + " to " + hi +
           ")";
}

template <auto M>
std::string set_count(const row& r, daemon_settings& s, std::string_view v) {
    auto n = parse_uint(v, UINT32_MAX, r.doc.name);
    if (!n) return n.error;
    if (n.value < r.doc.min || n.value > r.doc.max)
        return bounds_error(r, v, std::to_string(r.doc.min), std::to_string(r.doc.max));
    s.*M = static_cast<std::uint32_t>(n.value);
    return {};
}
template <auto M>
std::vector<std::string> get_count(const daemon_settings& s) {
    return {std::to_string(s.*M)};
}

template <auto M>
std::string set_size(const row& r, daemon_settings& s, std::string_view v) {
    auto n = units::parse_size(v);
    if (!n) return std::string(r.doc.name) + ": " + n.error;
    if (n.value < r.doc.min || n.value > r.doc.max)
        return bounds_error(r, v, units::format_size(r.doc.min), units::format_size(r.doc.max));
    s.*M = n.value;
    return {};
}
template <auto M>
std::vector<std::string> get_size(const daemon_settings& s) {
    return {units::format_size(s.*M)};
}

template <auto M>
std::string set_duration(const row& r, daemon_settings& s, std::string_view v) {
    auto d = units::parse_duration(v);
    if (!d) return std::string(r.doc.name) + ": " + d.error;
    auto secs = static_cast<std::uint64_t>(d.value.count());
    if (secs < r.doc.min || secs > r.doc.max)
        return bounds_error(r, v, units::format_duration(std::chrono::seconds(r.doc.min)),
                            units::format_duration(std::chrono::seconds(r.doc.max)));
    s.*M = d.value;
    return {};
}
template <auto M>
std::vector<std::string> get_duration(const daemon_settings& s) {
    return {units::format_duration(s.*M)};
}

template <auto M>
std::string set_path(const row& r, daemon_settings& s, std::string_view v) {
    if (v.empty()) return std::string(r.doc.name) + " needs a path";
    for (char c : v)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
            return std::string(r.doc.name) + " " + quoted(v) + " contains a control character";
    s.*M = std::string(v);
    return {};
}
template <auto M>
std::vector<std::string> get_string(const daemon_settings& s) {
    return {s.*M};
}

template <auto M>
std::string set_bool(const row& r, daemon_settings& s, std::string_view v) {
    if (v == "yes") s.*M = true;
    else if (v == "no") s.*M = false;
    else return std::string(r.doc.name) + " is yes or no, not '" + std::string(v) + "'";
    return {};
}

template <auto M>
std::vector<std::string> get_bool(const daemon_settings& s) {
    return {s.*M ? "yes" : "no"};
}

std::string set_hostname(const row&, daemon_settings& s, std::string_view v) {
    if (v.empty()) {
        s.hostname.clear();
        return {};
    }
    auto d = names::normalize_domain(v);
    if (!d) return "hostname: " + d.error;
    s.hostname = d.value;
    return {};
}

std::string set_listen(const row&, daemon_settings& s, std::string_view v) {
    auto l = parse_listen_spec(v);
    if (!l) return "listen: " + l.error;
    s.listen.push_back(l.value);
    return {};
}
std::vector<std::string> get_listen(const daemon_settings& s) {
    std::vector<std::string> out;
    for (const auto& l : s.listen) out.push_back(l.to_string());
    return out;
}

std::string set_trusted(const row&, daemon_settings& s, std::string_view v) {
    auto c = parse_cidr(v);
    if (!c) return "trusted_network: " + c.error;
    s.trusted_network.push_back(c.value);
    return {};
}
std::vector<std::string> get_trusted(const daemon_settings& s) {
    std::vector<std::string> out;
    for (const auto& c : s.trusted_network) out.push_back(c.to_string());
    return out;
}

std::string set_relayhost(const row&, daemon_settings& s, std::string_view v) {
    if (v.empty()) {
        s.relayhost.reset();
        return {};
    }
    auto h = parse_host_port(v);
    if (!h) return "relayhost: " + h.error;
    s.relayhost = h.value;
    return {};
}
std::vector<std::string> get_relayhost(const daemon_settings& s) {
    if (!s.relayhost) return {""};
    const auto& h = *s.relayhost;
    bool v6 = h.host.find(':') != std::string::npos;
    return {(v6 ? "[" + h.host + "]" : h.host) + ":" + std::to_string(h.port)};
}

std::string set_resolver(const row&, daemon_settings& s, std::string_view v) {
    if (v.empty()) {
        s.resolver.clear();
        return {};
    }
    auto f = dns::parse_forwarder(v);
    if (!f) return f.error; // already names the key: "resolver '…' has no :PORT (write …)"
    s.resolver = f.value.to_string();
    return {};
}

std::string set_postmaster(const row&, daemon_settings& s, std::string_view v) {
    if (v.empty()) {
        s.postmaster.clear();
        return {};
    }
    auto a = names::normalize_address(v);
    if (!a) return "postmaster: " + a.error;
    s.postmaster = a.value;
    return {};
}

constexpr std::string_view level_names[] = {"debug", "info", "warning", "error"};

std::string set_log_level(const row&, daemon_settings& s, std::string_view v) {
    for (std::size_t i = 0; i < std::size(level_names); ++i)
        if (v == level_names[i]) {
            s.log_level = static_cast<log::level>(i);
            return {};
        }
    return "log_level " + quoted(v) + " is not one of debug, info, warning, error";
}
std::vector<std::string> get_log_level(const daemon_settings& s) {
    return {std::string(level_names[static_cast<std::size_t>(s.log_level)])};
}

using ds = daemon_settings;
constexpr std::uint64_t KiB = 1024, MiB = KiB * 1024, GiB = MiB * 1024;
constexpr std::uint64_t minute = 60, hour = 3600, day = 86400;

// THE table. Defaults, bounds and doc lines are written here and nowhere else.
const row rows[] = {
    {{"hostname", "domain name", "", 0, 0,
      "host name for the greeting, EHLO and Received headers; empty = the system host name",
      false},
     set_hostname, get_string<&ds::hostname>},
    {{"listen", "KIND=ADDR:PORT",
      "smtp=0.0.0.0:25;submission=0.0.0.0:587;submission=0.0.0.0:2525;smtps=0.0.0.0:465", 0, 0,
      "a listener; KIND is smtp (MX, port 25), submission (STARTTLS + AUTH) or smtps (implicit "
      "TLS + AUTH); ADDR is IPv4 or [IPv6]",
      true},
     set_listen, get_listen},
    {{"trusted_network", "CIDR", "", 0, 0,
      "a network (192.0.2.0/24, 2001:db8::/32) allowed to relay without AUTH; default none",
      true},
     set_trusted, get_trusted},
    {{"relayhost", "HOST[:PORT]", "", 0, 0,
      "send all outbound mail through this smarthost instead of MX lookup; empty = MX", false},
     set_relayhost, get_relayhost},
    {{"resolver", "ADDR:PORT", "", 0, 0,
      "send every DNS query to this server (127.0.0.1:53, [::1]:53); empty = the servers in "
      "/etc/resolv.conf",
      false},
     set_resolver, get_string<&ds::resolver>},
    {{"tls_certificate", "path", "tls/cert.pem", 0, 0,
      "TLS certificate chain (PEM), relative to the state directory", false},
     set_path<&ds::tls_certificate>, get_string<&ds::tls_certificate>},
    {{"tls_key", "path", "tls/key.pem", 0, 0, "TLS private key (PEM, mode 0600)", false},
     set_path<&ds::tls_key>, get_string<&ds::tls_key>},
    {{"mail_root", "path", "mail", 0, 0, "root of the Maildirs: <mail_root>/<domain>/<user>/",
      false},
     set_path<&ds::mail_root>, get_string<&ds::mail_root>},
    {{"max_message_size", "size", "50M", KiB, 2 * GiB,
      "largest message accepted (SIZE, RFC 1870); binary units: 50M = 50 MiB", false},
     set_size<&ds::max_message_size>, get_size<&ds::max_message_size>},
    {{"max_recipients", "count", "100", 1, 100000, "recipients per message (RFC 5321 §4.5.3.1.8)",
      false},
     set_count<&ds::max_recipients>, get_count<&ds::max_recipients>},
    {{"max_command_line", "count", "512", 512, 65536,
      "octets per command line incl. CRLF (RFC 5321 §4.5.3.1.4); AUTH lines may be longer",
      false},
     set_count<&ds::max_command_line>, get_count<&ds::max_command_line>},
    {{"max_text_line", "count", "1000", 1000, 1048576,
      "octets per message text line incl. CRLF (RFC 5321 §4.5.3.1.6)", false},
     set_count<&ds::max_text_line>, get_count<&ds::max_text_line>},
    {{"max_bad_commands", "count", "20", 1, 1000,
      "unknown or out-of-sequence commands before the connection is closed", false},
     set_count<&ds::max_bad_commands>, get_count<&ds::max_bad_commands>},
    {{"max_connections", "count", "2000", 1, 1000000, "simultaneous SMTP connections in total",
      false},
     set_count<&ds::max_connections>, get_count<&ds::max_connections>},
    {{"max_connections_per_ip", "count", "100", 1, 1000000,
      "simultaneous SMTP connections from one IP address", false},
     set_count<&ds::max_connections_per_ip>, get_count<&ds::max_connections_per_ip>},
    {{"auth_failures_slowdown", "count", "3", 1, 100000,
      "after this many AUTH failures from one IP within auth_failure_window, each further "
      "attempt is delayed",
      false},
     set_count<&ds::auth_failures_slowdown>, get_count<&ds::auth_failures_slowdown>},
    {{"auth_failures_limit", "count", "10", 1, 100000,
      "after this many AUTH failures from one IP, AUTH is refused for it until the window passes",
      false},
     set_count<&ds::auth_failures_limit>, get_count<&ds::auth_failures_limit>},
    {{"auth_failure_window", "duration", "15m", 1, day,
      "window in which AUTH failures from one IP are counted", false},
     set_duration<&ds::auth_failure_window>, get_duration<&ds::auth_failure_window>},
    {{"timeout_command", "duration", "5m", 1, hour,
      "idle time allowed while waiting for a command (RFC 5321 §4.5.3.2)", false},
     set_duration<&ds::timeout_command>, get_duration<&ds::timeout_command>},
    {{"timeout_data", "duration", "3m", 1, hour,
      "time allowed for each block of message data (RFC 5321 §4.5.3.2.6 allows 3 minutes)",
      false},
     set_duration<&ds::timeout_data>, get_duration<&ds::timeout_data>},
    {{"timeout_tls_handshake", "duration", "30s", 1, 10 * minute, "time allowed for a TLS handshake",
      false},
     set_duration<&ds::timeout_tls_handshake>, get_duration<&ds::timeout_tls_handshake>},
    {{"postmaster", "address", "", 0, 0,
      "where mail to postmaster and double bounces go; empty = the holding mailbox", false},
     set_postmaster, get_string<&ds::postmaster>},
    {{"dmarc_reject", "yes|no", "yes", 0, 0,
      "refuse (550 5.7.1 at the end of DATA) mail on port 25 that fails DMARC under p=reject",
      false},
     set_bool<&ds::dmarc_reject>, get_bool<&ds::dmarc_reject>},
    {{"delay_warning_time", "duration", "4h", 0, 30 * day,
      "tell the sender (one RFC 3464 \"delayed\" DSN per recipient) when a message is still "
      "undelivered after this long; 0 = never",
      false},
     set_duration<&ds::delay_warning_time>, get_duration<&ds::delay_warning_time>},
    {{"log_level", "debug|info|warning|error", "info", 0, 0, "least severe log level written",
      false},
     set_log_level, get_log_level},
};

const row* find_row(std::string_view key) {
    for (const auto& r : rows)
        if (r.doc.name == key) return &r;
    return nullptr;
}

std::string known_keys() {
    std::string out;
    for (const auto& r : rows) out += (out.empty() ? "" : ", ") + std::string(r.doc.name);
    return out;
}

std::vector<std::string_view> split_defaults(std::string_view d) {
    std::vector<std::string_view> out;
    while (!d.empty()) {
        auto semi = d.find(';');
        out.push_back(d.substr(0, semi));
        if (semi == std::string_view::npos) break;
        d.remove_prefix(semi + 1);
    }
    return out;
}

std::vector<std::string> cross_checks(const daemon_settings& s) {
    std::vector<std::string> e;
    if (s.auth_failures_slowdown > s.auth_failures_limit)
        e.push_back("auth_failures_slowdown (" + std::to_string(s.auth_failures_slowdown) +
                    ") must not exceed auth_failures_limit (" +
                    std::to_string(s.auth_failures_limit) + ")");
    if (s.max_connections_per_ip > s.max_connections)
        e.push_back("max_connections_per_ip (" + std::to_string(s.max_connections_per_ip) +
                    ") must not exceed max_connections (" + std::to_string(s.max_connections) +
                    ")");
    return e;
}

} // namespace

std::string_view to_string(listener_kind k) {
    switch (k) {
    case listener_kind::smtp: return "smtp";
    case listener_kind::submission: return "submission";
    case listener_kind::smtps: return "smtps";
    }
    return "smtp";
}

std::string listen_spec::to_string() const {
    std::string out(config::to_string(kind));
    out += '=';
    out += ipv6 ? "[" + address + "]" : address;
    out += ':' + std::to_string(port);
    return out;
}

parsed<listen_spec> parse_listen_spec(std::string_view text) {
    using r = parsed<listen_spec>;
    auto bad = [&](std::string why) { return r::failure(quoted(text) + " " + why); };
    auto eq = text.find('=');
    if (eq == std::string_view::npos)
        return bad("is not KIND=ADDR:PORT (e.g. submission=0.0.0.0:587)");
    std::string_view kind = text.substr(0, eq), rest = text.substr(eq + 1);
    listen_spec l;
    if (kind == "smtp") l.kind = listener_kind::smtp;
    else if (kind == "submission") l.kind = listener_kind::submission;
    else if (kind == "smtps") l.kind = listener_kind::smtps;
    else return bad("has an unknown kind; use smtp, submission or smtps");
    std::string_view addr, port;
    if (!rest.empty() && rest.front() == '[') {
        auto close = rest.find(']');
        if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':')
            return bad("has an IPv6 address without ]:PORT after it");
        addr = rest.substr(1, close - 1);
        port = rest.substr(close + 2);
        l.ipv6 = true;
    } else {
        auto colon = rest.rfind(':');
        if (colon == std::string_view::npos) return bad("has no :PORT");
        addr = rest.substr(0, colon);
        port = rest.substr(colon + 1);
        if (addr.find(':') != std::string_view::npos)
            return bad("has an IPv6 address without brackets; write [ADDR]:PORT");
    }
    l.address = canonical_ip(addr, l.ipv6);
    if (l.address.empty())
        return bad(l.ipv6 ? "has an invalid IPv6 address" : "has an invalid IPv4 address");
    auto p = parse_port(port);
    if (!p) return bad("has a bad port: " + p.error);
    l.port = p.value;
    return r::success(l);
}

std::string cidr::to_string() const {
    char out[INET6_ADDRSTRLEN] = {};
    inet_ntop(ipv6 ? AF_INET6 : AF_INET, bytes.data(), out, sizeof out);
    return std::string(out) + "/" + std::to_string(prefix);
}

bool cidr::contains(std::span<const std::uint8_t> addr) const {
    const std::uint8_t* a = addr.data();
    if (ipv6) {
        if (addr.size() != 16) return false;
    } else if (addr.size() == 16) {
        static constexpr std::uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (std::memcmp(a, mapped, 12) != 0) return false;
        a += 12;
    } else if (addr.size() != 4) {
        return false;
    }
    int full = prefix / 8, rest = prefix % 8;
    if (std::memcmp(a, bytes.data(), static_cast<std::size_t>(full)) != 0) return false;
    if (rest == 0) return true;
    auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
    return (a[full] & mask) == (bytes[static_cast<std::size_t>(full)] & mask);
}

parsed<cidr> parse_cidr(std::string_view text) {
    using r = parsed<cidr>;
    auto bad = [&](std::string why) { return r::failure("network " + quoted(text) + " " + why); };
    cidr c;
    auto slash = text.find('/');
    std::string_view addr = text.substr(0, slash);
    c.ipv6 = addr.find(':') != std::string_view::npos;
    if (canonical_ip(addr, c.ipv6, c.bytes.data()).empty())
        return bad(c.ipv6 ? "has an invalid IPv6 address" : "has an invalid IPv4 address");
    int max = c.ipv6 ? 128 : 32;
    c.prefix = max;
    if (slash != std::string_view::npos) {
        auto p = parse_uint(text.substr(slash + 1), 1000, "prefix length");
        if (!p) return bad("has a bad prefix length: " + p.error);
        if (p.value > static_cast<std::uint64_t>(max))
            return bad("has a prefix length above " + std::to_string(max));
        c.prefix = static_cast<int>(p.value);
    }
    for (int bit = c.prefix; bit < max; ++bit)
        if (c.bytes[static_cast<std::size_t>(bit / 8)] & (0x80 >> (bit % 8))) {
            cidr fixed = c;
            for (int b = c.prefix; b < max; ++b)
                fixed.bytes[static_cast<std::size_t>(b / 8)] &=
                    static_cast<std::uint8_t>(~(0x80 >> (b % 8)));
            return bad("has host bits set; did you mean " + fixed.to_string() + "?");
        }
    return r::success(c);
}

parsed<host_port> parse_host_port(std::string_view text) {
    using r = parsed<host_port>;
    auto bad = [&](std::string why) { return r::failure(quoted(text) + " " + why); };
    host_port h;
    std::string_view host = text, port;
    bool bracket = !text.empty() && text.front() == '[';
    if (bracket) {
        auto close = text.find(']');
        if (close == std::string_view::npos) return bad("has '[' without ']'");
        host = text.substr(1, close - 1);
        std::string_view after = text.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') return bad("has text after ']' that is not :PORT");
            port = after.substr(1);
            if (port.empty()) return bad("has ':' without a port");
        }
    } else if (auto colon = text.find(':'); colon != std::string_view::npos) {
        if (text.find(':', colon + 1) != std::string_view::npos)
            return bad("looks like an IPv6 address; write it as [ADDR]:PORT");
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
        if (port.empty()) return bad("has ':' without a port");
    }
    if (!port.empty()) {
        auto p = parse_port(port);
        if (!p) return bad("has a bad port: " + p.error);
        h.port = p.value;
    }
    if (bracket && host.find(':') != std::string_view::npos) {
        h.host = canonical_ip(host, true);
        if (h.host.empty()) return bad("has an invalid IPv6 address");
    } else if (std::string v4 = canonical_ip(host, false); !v4.empty()) {
        h.host = v4;
    } else {
        auto d = names::normalize_domain(host);
        if (!d) return r::failure(d.error);
        h.host = d.value;
    }
    return r::success(h);
}

daemon_settings::daemon_settings() {
    for (const auto& r : rows)
        for (auto v : split_defaults(r.doc.default_value)) r.set(r, *this, v);
}

std::span<const setting_doc> settings_table() {
    static const std::vector<setting_doc> docs = [] {
        std::vector<setting_doc> v;
        for (const auto& r : rows) v.push_back(r.doc);
        return v;
    }();
    return docs;
}

std::string set_setting(daemon_settings& s, std::string_view key, std::string_view value) {
    const row* r = find_row(key);
    if (!r) return "unknown setting " + quoted(key) + "; known settings: " + known_keys();
    if (r->doc.repeatable && value.empty()) return std::string(key) + " needs a value";
    return r->set(*r, s, value);
}

std::vector<std::string> parse_settings_text(std::string_view text, std::string_view source,
                                             daemon_settings& out) {
    std::vector<std::string> errors;
    std::vector<std::pair<const row*, std::size_t>> seen; // key → first line
    std::size_t line_no = 0;
    std::string src(source);
    while (!text.empty()) {
        ++line_no;
        auto nl = text.find('\n');
        std::string_view line = trim(text.substr(0, nl));
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        if (line.empty() || line.front() == '#') continue;
        auto where = src + ":" + std::to_string(line_no) + ": ";
        auto eq = line.find('=');
        if (eq == std::string_view::npos) {
            errors.push_back(where + "expected 'key = value', found " + quoted(line));
            continue;
        }
        std::string_view key = trim(line.substr(0, eq)), value = trim(line.substr(eq + 1));
        const row* r = find_row(key);
        if (!r) {
            errors.push_back(where + "unknown setting " + quoted(key) + "; known settings: " +
                             known_keys());
            continue;
        }
        std::size_t first = 0;
        for (const auto& [k, l] : seen)
            if (k == r) first = l;
        if (first == 0) {
            seen.emplace_back(r, line_no);
            if (r->doc.repeatable) {
                // The file's first line of a repeatable key replaces the default list.
                if (r->doc.name == "listen") out.listen.clear();
                if (r->doc.name == "trusted_network") out.trusted_network.clear();
            }
        } else if (!r->doc.repeatable) {
            errors.push_back(where + std::string(key) + " is set twice (first on line " +
                             std::to_string(first) + ")");
            continue;
        }
        if (r->doc.repeatable && value.empty()) continue; // "trusted_network =" means none
        if (auto e = r->set(*r, out, value); !e.empty()) errors.push_back(where + e);
    }
    for (auto& e : cross_checks(out)) errors.push_back(src + ": " + e);
    return errors;
}

std::vector<std::string> parse_settings_file(const std::string& path, daemon_settings& out) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return {path + ": cannot read: " + std::strerror(errno)};
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) return {path + ": cannot read: " + std::strerror(errno)};
    return parse_settings_text(ss.str(), path, out);
}

std::string render_settings(const daemon_settings& s) {
    std::string out =
        "# carterod.conf: carterod's static settings, re-read on SIGHUP; flags override them.\n"
        "# Format: one 'key = value' per line; lines starting with '#' are comments. Relative\n"
        "# paths are relative to the state directory. Sizes take K, M, G (binary: 50M = 50 MiB);\n"
        "# durations take s, m, h, d (bare numbers are seconds). Tenant data (domains,\n"
        "# mailboxes, forwarders) lives in config.db: use carteroctl or the panel.\n";
    for (const auto& r : rows) {
        const auto& d = r.doc;
        out += "\n# " + std::string(d.doc) + ".\n";
        if (d.max != 0) {
            std::string lo, hi;
            if (d.type == "size") {
                lo = units::format_size(d.min);
                hi = units::format_size(d.max);
            } else if (d.type == "duration") {
                lo = units::format_duration(std::chrono::seconds(d.min));
                hi = units::format_duration(std::chrono::seconds(d.max));
            } else {
                lo = std::to_string(d.min);
                hi = std::to_string(d.max);
            }
            out += "# " + std::string(d.type) + ", " + lo + " to " + hi + ".\n";
        }
        auto values = r.get(s);
        if (d.repeatable) {
            out += "# Repeatable: the first " + std::string(d.name) +
                   " line replaces the built-in list; '" + std::string(d.name) +
                   " =' alone means none.\n";
            if (values.empty()) out += std::string(d.name) + " =\n";
        }
        for (const auto& v : values)
            out += std::string(d.name) + (v.empty() ? " =" : " = " + v) + "\n";
    }
    return out;
}

std::string render_default_settings(std::string_view hostname) {
    daemon_settings s;
    // A bad name leaves the default (system host name); carteroctl validates it beforehand.
    set_setting(s, "hostname", hostname);
    return render_settings(s);
}

} // namespace cartero::config
