// daemon/bounce/message_parts.hpp — just enough MIME reading for DSNs: headers, types, parts.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cartero::bounce::mime {

// RFC 5322 §2.2 header fields, unfolded (CRLF/LF + WSP → the WSP); names as written.
struct field {
    std::string name, value;
};

// Splits a message (or a MIME part) at the first empty line. No empty line: all headers.
// Tolerates LF-only line ends (bounces arrive from everywhere).
std::pair<std::string_view, std::string_view> split(std::string_view message);
std::vector<field> parse_fields(std::string_view header_block);
// First field named `name` (case-insensitive), value trimmed.
std::optional<std::string> get(const std::vector<field>& fs, std::string_view name);

// RFC 2045 §5.1 Content-Type: "type/subtype" lower-cased, parameters with lower-cased names,
// quoted values unquoted. Absent → text/plain (RFC 2045 §5.2).
struct content_type {
    std::string type;
    std::vector<std::pair<std::string, std::string>> params;
    std::string param(std::string_view name) const;
};
content_type parse_content_type(std::string_view value);

// RFC 2046 §5.1.1: the body parts between "--boundary" lines (preamble and epilogue dropped).
std::vector<std::string_view> multipart(std::string_view body, std::string_view boundary);

// Content-Transfer-Encoding decoding: base64 and quoted-printable; anything else as is.
std::string decode(std::string_view body, std::string_view cte);

std::string lower(std::string_view s);
std::string trim(std::string_view s);

} // namespace cartero::bounce::mime
