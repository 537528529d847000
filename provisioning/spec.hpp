// provisioning/spec.hpp — the customer spec (YAML): its model, and parsing with whole-spec
// validation that reports every error with its field path.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cartero::provision {

struct spec_hostname {
    std::string name;                           // normalised (A-label, lower case)
    std::optional<std::uint16_t> mx_preference; // set = an MX target of every domain
};

struct spec_ip {
    std::string address; // canonical (config::parse_ip)
    int family = 4;
    std::string hostname; // PTR and EHLO name: one of spec.hostnames
    std::string pool;     // outbound pool; empty = this address does not send
};

struct spec_dkim {
    std::string selector;
    std::string algorithm; // "rsa" | "ed25519"
};

struct spec_mailbox {
    std::string address;
    std::uint64_t quota_bytes = 0; // 0 = unlimited
};

struct spec_forwarder {
    std::string source; // address or "@domain"
    std::vector<std::string> to;
};

struct spec_smarthost {
    std::string host; // domain name or IP literal (canonical, IPv6 without brackets)
    std::uint16_t port = 25;
};

// A validated spec: every name normalised, every cross-reference checked.
struct customer_spec {
    std::string customer;
    std::string primary_domain;
    std::vector<std::string> extra_domains;
    std::vector<spec_hostname> hostnames;
    std::vector<spec_ip> ips;
    std::string admin_email;
    std::string postmaster;           // default: admin_email
    std::string dmarc_policy = "none"; // none | quarantine | reject
    std::string dmarc_rua;            // default: admin_email
    std::string tlsrpt_rua;           // default: dmarc_rua
    std::vector<spec_dkim> dkim;      // default: {cartero, rsa}
    std::vector<spec_mailbox> mailboxes;
    std::vector<spec_forwarder> forwarders;
    std::optional<spec_smarthost> smarthost;

    std::vector<std::string> domains() const; // primary first, then extra in spec order
    // The host name carterod calls itself (setting "hostname"): the MX host with the lowest
    // preference, else the first host name.
    std::string server_hostname() const;
};

// The outcome of parsing: `errors` is empty exactly when `spec` is valid. Each error is one
// line "PATH: what is wrong (line N)", e.g. "ips[2].address: 10.0.0.300 is not an IPv4
// address (line 14)"; all of them are collected, in document order.
struct spec_result {
    customer_spec spec;
    std::vector<std::string> errors;
    bool ok() const { return errors.empty(); }
};

spec_result parse_spec(std::string_view yaml_text);
// Reads `path` first; an unreadable file is one error naming it.
spec_result load_spec(const std::string& path);

} // namespace cartero::provision
