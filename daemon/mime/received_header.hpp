// daemon/mime/received_header.hpp — the Received trace field a receiving MTA prepends (RFC 5321 §4.4).
#pragma once

#include <cstdint>
#include <string>

namespace cartero::mime {

struct received_info {
    std::string helo;          // what the client said in EHLO/HELO
    std::string client_ip;     // textual
    std::string client_name;   // verified reverse DNS name, "" when unknown
    std::string by_host;       // our hostname
    bool esmtp = true;
    bool tls = false;
    bool authenticated = false;
    std::string tls_version;   // "TLSv1.3"
    std::string tls_cipher;    // "TLS_AES_256_GCM_SHA384"
    std::string queue_id;
    std::string single_recipient; // "for <...>" only with exactly one recipient (privacy)
    std::int64_t when = 0;        // unix seconds
};

// RFC 5322 date-time in UTC: "Mon, 23 Nov 2026 07:30:00 +0000".
std::string rfc5322_date(std::int64_t unix_seconds);

// "Received: ...\r\n" with folded continuation lines; the protocol is SMTP/ESMTP with the S
// (TLS) and A (AUTH) suffixes of RFC 3848.
std::string received_header(const received_info& r);

} // namespace cartero::mime
