// daemon/smtp/dot_stuffer.cpp — dot-stuffing and line-end repair for outgoing DATA.
#include "daemon/smtp/dot_stuffer.hpp"

#include <cstring>

namespace cartero::smtp {

namespace {

// The index of the first CR or LF at or after i (in.size() when there is none).
std::size_t next_break(std::string_view in, std::size_t i) {
    const char* b = in.data();
    const void* lf = std::memchr(b + i, '\n', in.size() - i);
    const std::size_t stop = lf ? static_cast<std::size_t>(static_cast<const char*>(lf) - b) : in.size();
    const void* cr = std::memchr(b + i, '\r', stop - i);
    return cr ? static_cast<std::size_t>(static_cast<const char*>(cr) - b) : stop;
}

} // namespace

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
        // Copy the run up to the next CR or LF in one go, found with two memchr (vectorised)
        // per line: the next LF, then a CR before it. (find_first_of looks every byte up in
        // the two-byte set, ~40 instructions a byte; a plain byte loop was 4% of carterod's
        // CPU at 100 KB.)
        const std::size_t j = next_break(in, i);
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
