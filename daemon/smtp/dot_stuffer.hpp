// daemon/smtp/dot_stuffer.hpp — streaming DATA encoder for the client: dot-stuffing and CRLF lines.
#pragma once

#include <string>
#include <string_view>

namespace cartero::smtp {

// Turns message bytes into the DATA stream, chunk by chunk (chunks may split lines, CRLFs and
// leading dots anywhere):
//   - RFC 5321 §4.5.2: a line that begins with "." gets one more "." in front;
//   - RFC 5321 §2.3.8: a bare CR or bare LF is sent as CRLF. The queue stores CRLF lines (the
//     server refuses bare CR/LF), so this only touches locally made messages; sending a bare LF
//     would let the next hop read a different message (SMTP smuggling) — never do it;
//   - finish(): a last line without CRLF gets one, then the end marker ".\r\n" (so the end is
//     always <CRLF>.<CRLF>; an empty message is just ".\r\n").
// Usage: append(chunk, out) any number of times, then finish(out) once; reset() for reuse.
class dot_stuffer {
public:
    void append(std::string_view chunk, std::string& out);
    void finish(std::string& out);
    void reset() {
        at_line_start_ = true;
        pending_cr_ = false;
    }

private:
    bool at_line_start_ = true;
    bool pending_cr_ = false; // a CR whose LF may come in the next chunk
};

// Whole message at once: append(body) + finish().
std::string dot_stuff(std::string_view body);

} // namespace cartero::smtp
