// core/daemon_settings.hpp — carterod's static settings (carterod.conf): one table drives parsing,
// validation, defaults and the rendered defaults file.
#pragma once

#include "core/log.hpp"
#include "core/parsed.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cartero::config {

enum class listener_kind { smtp, submission, smtps };

std::string_view to_string(listener_kind k);

// One listener: KIND=ADDR:PORT, ADDR an IPv4 address or a bracketed IPv6 one.
struct listen_spec {
    listener_kind kind = listener_kind::smtp;
    std::string address; // without brackets: "0.0.0.0", "::1"
    std::uint16_t port = 0;
    bool ipv6 = false;

    std::string to_string() const; // "submission=[::1]:587"
    bool operator==(const listen_spec&) const = default;
};

// "smtp=0.0.0.0:25", "submission=[::]:587". Port 1–65535.
parsed<listen_spec> parse_listen_spec(std::string_view text);

// An IPv4 or IPv6 network; the address is stored with the host bits cleared.
struct cidr {
    std::array<std::uint8_t, 16> bytes{}; // first 4 used for IPv4
    bool ipv6 = false;
    int prefix = 0; // 0–32 or 0–128

    std::string to_string() const; // "192.0.2.0/24", "2001:db8::/32"
    // `addr` is 4 bytes (IPv4) or 16 (IPv6). An IPv4-mapped IPv6 address (::ffff:a.b.c.d)
    // matches IPv4 networks, as a dual-stack socket reports IPv4 peers that way.
    bool contains(std::span<const std::uint8_t> addr) const;
    bool operator==(const cidr&) const = default;
};

// "192.0.2.0/24", "2001:db8::/32"; a bare address means a single host (/32 or /128). Host bits
// set below the prefix ("192.0.2.1/24") are refused: it is usually a typo.
parsed<cidr> parse_cidr(std::string_view text);

// A next hop: HOST[:PORT], HOST a domain name, an IPv4 address or [IPv6]; port 25 if absent.
struct host_port {
    std::string host; // normalised domain name, or IP address without brackets
    std::uint16_t port = 25;
    bool operator==(const host_port&) const = default;
};
parsed<host_port> parse_host_port(std::string_view text);

// The settings. A default-constructed daemon_settings holds the defaults from the table in
// daemon_settings.cpp (the only place they are written down). Relative paths are relative to
// the state directory.
struct daemon_settings {
    daemon_settings();

    std::string hostname; // "" = the system host name
    std::vector<listen_spec> listen;
    std::vector<cidr> trusted_network;
    std::optional<host_port> relayhost; // nullopt = deliver by MX
    std::string resolver;               // DNS server "ADDR:PORT" ("[::1]:53"); "" = the system's
    std::string tls_certificate;
    std::string tls_key;
    std::string mail_root;
    std::uint64_t max_message_size = 0;
    std::uint32_t max_recipients = 0;
    std::uint32_t max_command_line = 0;
    std::uint32_t max_text_line = 0;
    std::uint32_t max_bad_commands = 0;
    std::uint32_t max_connections = 0;
    std::uint32_t max_connections_per_ip = 0;
    std::uint32_t auth_failures_slowdown = 0;
    std::uint32_t auth_failures_limit = 0;
    std::chrono::seconds auth_failure_window{0};
    std::chrono::seconds timeout_command{0};
    std::chrono::seconds timeout_data{0};
    std::chrono::seconds timeout_tls_handshake{0};
    std::string postmaster; // normalised address, or "" = none
    bool dmarc_reject = true; // DMARC fail under p=reject → 550 5.7.1 (port 25)
    std::chrono::seconds delay_warning_time{0}; // delay DSN after this long queued; 0 = none
    log::level log_level = log::level::info;

    bool operator==(const daemon_settings&) const = default;
};

// One row of the settings table, for help texts, docs and `config dump`.
struct setting_doc {
    std::string_view name;
    std::string_view type;          // "size", "duration", "count", "listen", ...
    std::string_view default_value; // as written in the file; repeatable keys: ";"-separated
    std::uint64_t min = 0;          // bounds for size (octets), duration (seconds) and count;
    std::uint64_t max = 0;          // both 0 = unbounded or not numeric
    std::string_view doc;
    bool repeatable = false;
};
std::span<const setting_doc> settings_table();

// Applies `key = value` lines to `out` (which normally starts as daemon_settings{}). Blank lines
// and lines starting with '#' are ignored; values are trimmed. A repeatable key's first line in
// the text replaces the default list, later lines append; other keys may appear once. Returns
// the errors as "SOURCE:LINE: problem" (empty = fine). Checks across keys (slowdown ≤ limit,
// per-IP ≤ total connections) are reported as "SOURCE: problem".
std::vector<std::string> parse_settings_text(std::string_view text, std::string_view source,
                                             daemon_settings& out);
// The same for a file; an unreadable file is one error "PATH: cannot read: <reason>".
std::vector<std::string> parse_settings_file(const std::string& path, daemon_settings& out);

// Sets one key as a flag would ("--max-recipients 50" → set_setting(s, "max_recipients", "50")).
// For repeatable keys it appends. Returns the problem, or "" when fine.
std::string set_setting(daemon_settings& s, std::string_view key, std::string_view value);

// Renders `s` as a settings file: every key with its doc line as a comment, in table order.
std::string render_settings(const daemon_settings& s);
// The defaults with hostname = `hostname`, as `carteroctl init` writes carterod.conf.
// parse_settings_text(render_default_settings(h)) yields daemon_settings{} with hostname h.
std::string render_default_settings(std::string_view hostname);

} // namespace cartero::config
