// daemon/smtp/data_reader.hpp — DATA (dot-stuffed, RFC 5321 §4.5.2) and BDAT (RFC 3030) readers.
#pragma once

#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>

#include "core/octets.hpp"

namespace cartero::smtp {

struct body_limits {
    std::size_t max_message_size = 50u << 20; // unstuffed octets, CRLFs included
    std::size_t max_text_line = 1000;         // incl. CRLF (RFC 5322 §2.1.1, RFC 5321 §4.5.3.1.6)
};

// Why a message is refused; the first problem seen wins.
enum class body_verdict {
    ok,
    bare_cr_lf,    // RFC 5321 §2.3.8: CR and LF only as CRLF → 550 5.6.0
    line_too_long, // → 550 5.6.0
    too_big,       // → 552 5.3.4
};

// Stores message content with CRLF line ends and enforces the limits while streaming. Once a
// problem is seen it stops storing (and frees what it had) but keeps tracking line ends, so the
// reader can still find the end of the message. Scans with memchr: no per-octet allocation.
class message_sink {
public:
    // `reserve_hint` is capped (a client's SIZE= is a claim, not a reason to allocate 50 MB).
    // `prefix` (the receiver's trace fields) starts *out; the limits apply to what follows.
    void begin(std::string* out, body_limits limits, std::size_t reserve_hint,
               std::string_view prefix = {});
    struct scan_result {
        std::size_t consumed;
        bool line_ended; // consumed ends with a CRLF
    };
    // Consumes octets up to and including the next CRLF (or all of them).
    scan_result scan(const char* p, std::size_t n);
    void bare(); // a bare CR or LF seen by the caller
    bool cr_pending() const { return cr_pending_; }
    bool line_open() const { return line_len_ > 0; }
    void terminate_line(); // append CRLF to an unterminated last line
    // At the start of a line: consumes the run of complete lines ahead that need no change
    // and break no rule (CRLF only, within the line and size limits) and for which `keep`
    // allows the line's first octet, and stores them with one append. Returns the octets taken
    // (0: let scan() handle what comes next, including any refusal).
    template <class FirstOctetOk> std::size_t take_clean_lines(const char* p, std::size_t n,
                                                               FirstOctetOk keep);
    body_verdict verdict() const { return verdict_; }

private:
    void content(const char* p, std::size_t n);
    void line_end();
    void refuse(body_verdict v);
    std::string* out_ = nullptr;
    body_limits limits_;
    std::size_t line_len_ = 0;
    bool cr_pending_ = false; // last octet seen was a CR whose follower has not arrived
    body_verdict verdict_ = body_verdict::ok;
};

template <class FirstOctetOk>
std::size_t message_sink::take_clean_lines(const char* p, std::size_t n, FirstOctetOk keep) {
    if (verdict_ != body_verdict::ok || cr_pending_ || line_len_ != 0) return 0;
    std::size_t pos = 0;
    while (pos < n && keep(p[pos])) {
        // The line ends at its first CR or LF: it must be a CR, followed by a LF.
        const std::size_t len = first_cr_or_lf(std::string_view(p + pos, n - pos));
        if (pos + len + 1 >= n) break; // incomplete (no CR, or a CR as the last octet)
        if (p[pos + len] != '\r' || p[pos + len + 1] != '\n') break; // a bare LF or CR
        if (len + 2 > limits_.max_text_line) break;
        pos += len + 2;
    }
    if (pos == 0 || out_->size() + pos > limits_.max_message_size) return 0;
    out_->append(p, pos);
    return pos;
}

// The DATA reader: only <CRLF>.<CRLF> ends the message (a bare LF or CR never ends it: SMTP
// smuggling), a leading "." is removed from every line that has one (RFC 5321 §4.5.2).
class data_reader {
public:
    void begin(std::string* out, body_limits limits, std::size_t reserve_hint,
               std::string_view prefix = {});
    // Consumes octets; stops right after the end marker. Returns how many were used.
    std::size_t feed(std::string_view in);
    bool done() const { return state_ == state::done; }
    body_verdict verdict() const { return sink_.verdict(); }
    // No line was dot-unstuffed, so no stored line starts with "." (conservative: a line that
    // had a single leading dot is stored without one but still counts). With the CRLF-only
    // rule this makes the message sendable as it is, without dot-stuffing (client_fsm).
    bool dot_free() const { return !dot_lines_; }

private:
    enum class state { bol, bol_dot, bol_dot_cr, mid, done } state_ = state::bol;
    bool dot_lines_ = false;
    message_sink sink_;
};

// The BDAT reader: exactly n octets per chunk, taken as they are (no dot-stuffing), with the same
// checks as DATA across chunk boundaries (a CR ending one chunk may meet its LF in the next).
class bdat_reader {
public:
    void begin(std::string* out, body_limits limits, std::size_t reserve_hint,
               std::string_view prefix = {});
    void start_chunk(std::size_t n) { remaining_ = n; }
    std::size_t feed(std::string_view in); // returns octets used (at most what the chunk lacks)
    bool chunk_done() const { return remaining_ == 0; }
    // After the LAST chunk: a trailing CR is bare; an unterminated last line gets its CRLF
    // (RFC 5322 §2.1: lines end with CRLF; DKIM's canonical form would add it anyway).
    void finish();
    body_verdict verdict() const { return sink_.verdict(); }
    // No line of the message starts with "." (as data_reader::dot_free).
    bool dot_free() const { return !dot_lines_; }

private:
    std::size_t remaining_ = 0;
    bool dot_lines_ = false;
    message_sink sink_;
};

} // namespace cartero::smtp
