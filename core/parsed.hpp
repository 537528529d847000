// core/parsed.hpp — the result of checking untrusted text: a value, or an error a person can act on.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

namespace cartero {

// Validators in core/ (names, sizes, durations, listen specs, CIDRs) never throw on bad input:
// they are called on every RCPT and on every CLI/panel field, so failure is an ordinary value.
// `error` is one line, safe to print (hostile bytes from the input are escaped), and says what
// is wrong and, where it helps, what to write instead.
template <class T>
struct parsed {
    bool ok = false;
    T value{};
    std::string error; // empty when ok

    explicit operator bool() const { return ok; }

    static parsed success(T v) { return parsed{true, std::move(v), {}}; }
    static parsed failure(std::string why) { return parsed{false, T{}, std::move(why)}; }
};

// Length of the valid UTF-8 sequence at s[i] (shortest form, no surrogates, ≤ U+10FFFF) and its
// code point; 0 when the bytes there are not valid UTF-8.
inline std::size_t utf8_sequence(std::string_view s, std::size_t i, char32_t& cp) {
    auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
    unsigned char c = b(0);
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return 0;
    cp = n == 1 ? c : n == 2 ? (c & 0x1f) : n == 3 ? (c & 0x0f) : (c & 0x07);
    for (std::size_t k = 1; k < n; ++k) {
        if ((b(k) & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (b(k) & 0x3f);
    }
    static constexpr char32_t min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_for_len[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return n;
}

// Quotes untrusted text for an error message: 'text', with C0/C1 controls, quotes, backslashes
// and invalid UTF-8 escaped as \xNN (so a hostile argument cannot drive the terminal), and
// anything past `max` octets cut to "...".
inline std::string quoted(std::string_view s, std::size_t max = 80) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out = "'";
    std::size_t i = 0;
    while (i < s.size() && i < max) {
        char32_t cp = 0;
        std::size_t n = utf8_sequence(s, i, cp);
        bool plain = n > 0 && cp >= 0x20 && cp != 0x7f && !(cp >= 0x80 && cp < 0xa0) &&
                     cp != '\\' && cp != '\'';
        if (plain) {
            out.append(s.substr(i, n));
            i += n;
        } else {
            auto c = static_cast<unsigned char>(s[i]);
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
            ++i;
        }
    }
    if (i < s.size()) out += "...";
    out += "'";
    return out;
}

} // namespace cartero
