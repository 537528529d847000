// daemon/smtp/data_reader.cpp — DATA/BDAT message readers: CRLF-only lines, dot-unstuffing, limits.
#include "daemon/smtp/data_reader.hpp"

#include <algorithm>
#include <cstring>

namespace cartero::smtp {

namespace {
// Reserve at most this up front; beyond it std::string grows geometrically as octets arrive.
constexpr std::size_t max_reserve = 4u << 20;
// Without SIZE=: room for a 100 KB message without the copy of growing 64 KiB → 128 KiB.
constexpr std::size_t default_reserve = 128u << 10;
} // namespace

void message_sink::begin(std::string* out, body_limits limits, std::size_t reserve_hint,
                         std::string_view prefix) {
    out_ = out;
    limits_ = limits;
    limits_.max_message_size += prefix.size(); // the size checks count *out_ as a whole
    line_len_ = 0;
    cr_pending_ = false;
    verdict_ = body_verdict::ok;
    out_->clear();
    std::size_t hint = reserve_hint ? reserve_hint : default_reserve;
    out_->reserve(std::min({hint + 2, max_reserve, limits.max_message_size + 2}) + prefix.size());
    out_->append(prefix);
}

void message_sink::refuse(body_verdict v) {
    if (verdict_ != body_verdict::ok) return;
    verdict_ = v;
    *out_ = std::string(); // refused: keep nothing (up to 50 MB per connection otherwise)
}

void message_sink::bare() { refuse(body_verdict::bare_cr_lf); }

void message_sink::content(const char* p, std::size_t n) {
    if (n == 0 || verdict_ != body_verdict::ok) return;
    // The limit these octets cross first, as if they came one at a time (the line limit on a
    // tie): the verdict must not depend on how the client's octets were split into reads.
    const std::size_t line_used = line_len_ + 2, size_used = out_->size();
    const std::size_t line_room = limits_.max_text_line > line_used ? limits_.max_text_line - line_used : 0;
    const std::size_t size_room =
        limits_.max_message_size > size_used ? limits_.max_message_size - size_used : 0;
    if (n > line_room || n > size_room)
        return refuse(line_room <= size_room ? body_verdict::line_too_long : body_verdict::too_big);
    line_len_ += n;
    out_->append(p, n);
}

void message_sink::line_end() {
    line_len_ = 0;
    if (verdict_ != body_verdict::ok) return;
    if (out_->size() + 2 > limits_.max_message_size) return refuse(body_verdict::too_big);
    out_->append("\r\n", 2);
}

void message_sink::terminate_line() {
    if (line_len_ > 0) line_end();
}

message_sink::scan_result message_sink::scan(const char* p, std::size_t n) {
    std::size_t i = 0;
    if (cr_pending_ && n > 0) {
        cr_pending_ = false;
        if (p[0] == '\n') {
            line_end();
            return {1, true};
        }
        bare(); // the CR before this chunk had no LF
    }
    while (i < n) {
        const char* start = p + i;
        std::size_t left = n - i;
        const auto* cr = static_cast<const char*>(std::memchr(start, '\r', left));
        std::size_t seg = cr ? static_cast<std::size_t>(cr - start) : left;
        if (verdict_ == body_verdict::ok) {
            // A LF before the next CR is a bare LF (RFC 5321 §2.3.8). Once refused, only the
            // CRs matter: we look for <CRLF>.<CRLF> and nothing else.
            if (const auto* lf = static_cast<const char*>(std::memchr(start, '\n', seg))) {
                content(start, static_cast<std::size_t>(lf - start));
                bare();
                i += static_cast<std::size_t>(lf - start) + 1;
                continue;
            }
            content(start, seg);
        }
        if (!cr) return {n, false};
        i += seg + 1; // past the CR
        if (i == n) {
            cr_pending_ = true;
            return {n, false};
        }
        if (p[i] == '\n') {
            line_end();
            return {i + 1, true};
        }
        bare();
    }
    return {n, false};
}

void data_reader::begin(std::string* out, body_limits limits, std::size_t reserve_hint,
                        std::string_view prefix) {
    sink_.begin(out, limits, reserve_hint, prefix);
    state_ = state::bol; // the first line starts right after the DATA line's CRLF
    dot_lines_ = false;
}

std::size_t data_reader::feed(std::string_view in) {
    std::size_t i = 0;
    while (i < in.size() && state_ != state::done) {
        switch (state_) {
        case state::bol:
            if (in[i] == '.') {
                state_ = state::bol_dot;
                ++i;
            } else if (auto run = sink_.take_clean_lines(in.data() + i, in.size() - i,
                                                         [](char c) { return c != '.'; })) {
                i += run; // whole lines without a leading dot: stored as they came
            } else {
                state_ = state::mid;
            }
            break;
        case state::bol_dot:
            if (in[i] == '\r') {
                state_ = state::bol_dot_cr;
                ++i;
            } else {
                state_ = state::mid; // RFC 5321 §4.5.2: the leading dot is dropped
                dot_lines_ = true;
            }
            break;
        case state::bol_dot_cr:
            if (in[i] == '\n') {
                state_ = state::done; // <CRLF>.<CRLF>
                ++i;
            } else {
                sink_.bare(); // ".<CR>x": a bare CR, and not the end (RFC 5321 §2.3.8)
                state_ = state::mid;
            }
            break;
        case state::mid: {
            auto r = sink_.scan(in.data() + i, in.size() - i);
            i += r.consumed;
            if (r.line_ended) state_ = state::bol;
            break;
        }
        case state::done:
            break;
        }
    }
    return i;
}

void bdat_reader::begin(std::string* out, body_limits limits, std::size_t reserve_hint,
                        std::string_view prefix) {
    sink_.begin(out, limits, reserve_hint, prefix);
    remaining_ = 0;
    dot_lines_ = false;
}

std::size_t bdat_reader::feed(std::string_view in) {
    std::size_t take = std::min(remaining_, in.size());
    std::size_t i = 0;
    while (i < take) {
        // BDAT has no dot-stuffing: every clean line is taken as it is. `keep` sees the first
        // octet of every line (a line start always goes through take_clean_lines first).
        if (auto run = sink_.take_clean_lines(in.data() + i, take - i, [this](char c) {
                dot_lines_ = dot_lines_ || c == '.';
                return true;
            })) {
            i += run;
            continue;
        }
        i += sink_.scan(in.data() + i, take - i).consumed;
    }
    remaining_ -= take;
    return take;
}

void bdat_reader::finish() {
    if (sink_.cr_pending()) sink_.bare();
    sink_.terminate_line();
}

} // namespace cartero::smtp
