// core/tls_cert.hpp — a self-signed TLS certificate and key for a fresh appliance (OpenSSL 3).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cartero::tls {

// Generates an ECDSA P-256 key and a self-signed X.509 v3 certificate for `hostname`
// (CN = hostname when ≤ 64 octets, SAN DNS:hostname, valid from now for 825 days, random
// 128-bit serial, serverAuth, SHA-256 signature) and writes them as PEM: `key_path` mode 0600,
// `cert_path` mode 0644. Each file is written to "<path>.tmp", fsync'd, renamed into place and
// its directory fsync'd, so a crash leaves either no file or a whole one. The key is written
// first. Existing files at the paths are replaced. Throws std::runtime_error naming the step
// that failed.
void write_self_signed(std::string_view hostname, const std::string& cert_path,
                       const std::string& key_path);

// The same for several host names (the provisioned MX and outbound hosts): CN = the first,
// one SAN DNS entry per name, in the order given. `names` must not be empty.
void write_self_signed(const std::vector<std::string>& names, const std::string& cert_path,
                       const std::string& key_path);

// What provisioning needs to know about an installed certificate: its SAN DNS names (in
// certificate order) and whether it is self-signed (issuer = subject and its own key verifies
// it), i.e. ours to reissue rather than a CA-issued one an operator put there.
struct certificate_info {
    std::vector<std::string> dns_names;
    bool self_signed = false;
};

// Reads the PEM certificate at `cert_path`; nullopt when the file is missing or is not a
// readable certificate. Never throws.
std::optional<certificate_info> read_certificate(const std::string& cert_path);

} // namespace cartero::tls
