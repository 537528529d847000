// daemon/smtp/reply_parser.hpp — client side: splits server bytes into SMTP replies (RFC 5321 §4.2).
#pragma once

#include "core/reply.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace cartero::smtp {

// A reply as a remote server sent it. `r` is parsed (code, RFC 3463 enhanced code when the
// server gave one, text lines without code and enhanced code); `verbatim` is every line exactly
// as received (CR LF removed, lines joined with "\r\n") — what the delivery log and the DSN's
// Diagnostic-Code quote. `local` marks a reply Cartero made up (protocol error, connection lost,
// a rule checked before sending): it never came from the remote server.
struct remote_reply {
    reply r;
    std::string verbatim;
    bool local = false;

    // A reply made up here; `verbatim` is its one-line rendering.
    static remote_reply synthetic(int code, std::string enhanced, std::string text);
    // One line for logs and Diagnostic-Code: the verbatim lines joined with a space.
    std::string one_line() const;
};

// Incremental reply reader. take() consumes complete lines from `in` starting at `pos` (which it
// advances) and reports a complete reply, a need for more input, or a protocol error. Lines end
// in CRLF; a bare LF is tolerated (some servers send it and reading it changes nothing).
// Protocol errors (the connection cannot be trusted afterwards):
//   - a line that is not `DDD`, `DDD text` or `DDD-text` with D a digit, first digit 2..5
//     (RFC 5321 §4.2: reply codes 2yz..5yz, second digit 0..5);
//   - continuation lines with a code other than the first line's (RFC 5321 §4.2.1);
//   - a line longer than max_line octets including CRLF (RFC 5321 §4.5.3.1.5: 512);
//   - more than max_lines lines in one reply (our limit: a reply is not a data channel).
// The enhanced code (RFC 2034 §4, RFC 3463) is taken from the first line when its class equals
// the reply's first digit and stripped from every line that repeats it; none present → empty.
class reply_parser {
public:
    enum class status { need_more, complete, error };
    struct result {
        status st = status::need_more;
        remote_reply reply; // complete
        std::string error;  // error: what was wrong, for the "451 4.4.0 protocol error" text
    };

    explicit reply_parser(std::size_t max_line = 512, std::size_t max_lines = 100)
        : max_line_(max_line), max_lines_(max_lines) {}

    result take(std::string_view in, std::size_t& pos);
    void reset(); // forget a partial reply (after STARTTLS)

private:
    std::size_t max_line_, max_lines_;
    std::vector<std::string> lines_; // the lines of the reply under way
};

// Parses "x.y.z" (RFC 3463 §2: class 2/4/5, subject 1-3 digits, detail 1-3 digits) at the start
// of `text`; returns its length (0 when absent).
std::size_t enhanced_code_length(std::string_view text);

} // namespace cartero::smtp
