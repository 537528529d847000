// daemon/policy/spam_message.hpp — what spam rules look at in a message: the top-level header
// fields (unfolded, RFC 2047 words decoded), the decoded text parts, the From address; and the
// removal of incoming X-Spam-* fields. Bounded in time and memory for hostile input.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cartero::policy {

struct spam_message_limits {
    std::size_t max_header_fields = 500;   // fields looked at; the rest are ignored
    std::size_t max_field_bytes = 8192;    // per field value, after unfolding
    std::size_t max_text_bytes = 512 * 1024; // decoded body text, all parts together
    std::size_t max_parts = 100;           // MIME parts visited
    std::size_t max_depth = 8;             // multipart nesting
};

struct spam_message {
    // (lower-cased name, value) in message order.
    std::vector<std::pair<std::string, std::string>> headers;
    std::string text;         // text/* parts, transfer-decoded (base64, quoted-printable), joined by \n
    std::string from_address; // addr-spec of the first From address, domain lower-cased; "" = none
    std::string from_domain;
};

// `message` is CRLF (LF tolerated), as received. Never throws for malformed MIME.
spam_message read_spam_message(std::string_view message, const spam_message_limits& lim = {});

// RFC 2047 encoded-words (=?charset?B|Q?...?=) decoded to their octets; the charset is not
// converted (UTF-8 and ASCII, the common cases, then read as written).
std::string decode_encoded_words(std::string_view value);

// The message without any header field named X-Spam-* (case-insensitive), continuation lines
// included: only Cartero writes these. `removed` counts them.
std::string strip_spam_fields(std::string_view message, std::size_t* removed = nullptr);

} // namespace cartero::policy
