// core/reply.hpp — the one reply type every layer returns: SMTP code, enhanced status, text.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace cartero {

// A reply as SMTP sends it (RFC 5321 §4.2) with its RFC 3463 enhanced status code.
// Policy, queue and delivery calls return one; the session decides when to send it and the
// log records it. `enhanced` is empty only for the greeting and EHLO/HELO replies (RFC 2034).
struct reply {
    int code = 250;
    std::string enhanced;           // "2.1.0"; empty for greeting/EHLO
    std::vector<std::string> lines; // at least one line of text

    reply() = default;
    reply(int c, std::string enh, std::string text) : code(c), enhanced(std::move(enh)) {
        lines.push_back(std::move(text));
    }

    bool positive() const { return code >= 200 && code < 400; }
    bool temporary() const { return code >= 400 && code < 500; }
    bool permanent() const { return code >= 500; }

    // The reply on the wire, CRLF-terminated, "250-" continuation lines, the enhanced code
    // repeated on every line (RFC 2034 §3).
    std::string wire() const;
    // One line for logs: `250 2.1.0 Ok`.
    std::string summary() const;
};

} // namespace cartero
