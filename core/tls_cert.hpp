// core/tls_cert.hpp — a self-signed TLS certificate and key for a fresh appliance (OpenSSL 3).
#pragma once

#include <string>
#include <string_view>

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

} // namespace cartero::tls
