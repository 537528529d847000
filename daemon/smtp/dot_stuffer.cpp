// daemon/smtp/dot_stuffer.cpp — dot-stuffing and line-end repair for outgoing DATA.
#include "daemon/smtp/dot_stuffer.hpp"

namespace cartero::smtp {

void dot_stuffer::append(std::string_view in, std::string& out) {
    out.reserve(out.size() + in.size() + in.size() / 64 + 8);
    std::size_t i = 0;
    while (i < in.size()) {
        if (pending_cr_) {
            pending_cr_ = false;
            out += "\r\n"; // CRLF, or a bare CR repaired to CRLF
            at_line_start_ = true;
            if (in[i] == '\n') {
                ++i;
                continue;
            }
        }
        if (at_line_start_ && in[i] == '.') out += '.'; // RFC 5321 §4.5.2
        // Copy the run up to the next CR or LF in one go. A plain loop: find_first_of looks
        // every byte up in the two-byte set with memchr (callgrind: ~40 instructions a byte).
        std::size_t j = i;
        while (j < in.size() && in[j] != '\r' && in[j] != '\n') ++j;
        if (j > i) {
            out.append(in.substr(i, j - i));
            at_line_start_ = false;
        }
        i = j;
        if (i == in.size()) break;
        if (in[i] == '\r') {
            pending_cr_ = true;
        } else { // bare LF → CRLF
            out += "\r\n";
            at_line_start_ = true;
        }
        ++i;
    }
}

void dot_stuffer::finish(std::string& out) {
    if (pending_cr_) {
        pending_cr_ = false;
        out += "\r\n";
        at_line_start_ = true;
    }
    if (!at_line_start_) out += "\r\n"; // the end marker needs a CRLF before it
    out += ".\r\n";
    at_line_start_ = true;
}

std::string dot_stuff(std::string_view body) {
    dot_stuffer s;
    std::string out;
    s.append(body, out);
    s.finish(out);
    return out;
}

} // namespace cartero::smtp
