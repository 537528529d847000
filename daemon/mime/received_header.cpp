// daemon/mime/received_header.cpp — rendering of Received trace fields.
#include "daemon/mime/received_header.hpp"

#include <ctime>

namespace cartero::mime {

namespace {
// Trace fields must stay printable ASCII without CR/LF: a client's HELO is attacker-chosen.
std::string sanitise(const std::string& s, std::size_t max = 128) {
    std::string out;
    for (unsigned char c : s) {
        if (out.size() >= max) break;
        if (c > ' ' && c < 0x7f && c != '(' && c != ')' && c != ';')
            out += static_cast<char>(c);
        else
            out += '_';
    }
    return out.empty() ? std::string("unknown") : out;
}
} // namespace

std::string rfc5322_date(std::int64_t unix_seconds) {
    std::time_t t = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    return buf;
}

std::string received_header(const received_info& r) {
    std::string proto = r.esmtp ? "ESMTP" : "SMTP";
    if (r.esmtp && r.tls) proto += "S";
    if (r.esmtp && r.authenticated) proto += "A";
    std::string h = "Received: from " + sanitise(r.helo) + " (";
    if (!r.client_name.empty()) h += sanitise(r.client_name) + " ";
    h += "[" + sanitise(r.client_ip, 64) + "])\r\n";
    h += "\tby " + sanitise(r.by_host) + " (Cartero) with " + proto + " id " + r.queue_id;
    if (r.tls && !r.tls_version.empty())
        h += "\r\n\t(version=" + sanitise(r.tls_version, 32) +
             " cipher=" + sanitise(r.tls_cipher, 64) + ")";
    if (!r.single_recipient.empty()) h += "\r\n\tfor <" + sanitise(r.single_recipient, 256) + ">";
    h += ";\r\n\t" + rfc5322_date(r.when) + "\r\n";
    return h;
}

} // namespace cartero::mime
