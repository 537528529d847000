// core/size_parse.cpp — strict parsing and exact formatting of sizes and durations.
#include "core/size_parse.hpp"

#include <limits>

namespace cartero::units {
namespace {

constexpr std::uint64_t max_value = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());

struct number_and_unit {
    bool ok = false;
    std::uint64_t number = 0;
    std::string_view unit;
    std::string error;
};

// Leading decimal digits and what follows them; refuses signs and overflow with a reason.
number_and_unit split(std::string_view text, std::string_view what) {
    number_and_unit r;
    if (text.empty()) {
        r.error = "the " + std::string(what) + " is empty";
        return r;
    }
    if (text.front() == '-') {
        r.error = std::string(what) + " " + quoted(text) + " is negative";
        return r;
    }
    std::size_t i = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
        auto digit = static_cast<std::uint64_t>(text[i] - '0');
        if (r.number > (max_value - digit) / 10) {
            r.error = std::string(what) + " " + quoted(text) + " is too large";
            return r;
        }
        r.number = r.number * 10 + digit;
        ++i;
    }
    if (i == 0) {
        r.error = std::string(what) + " " + quoted(text) + " does not start with a number";
        return r;
    }
    r.unit = text.substr(i);
    r.ok = true;
    return r;
}

char upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

} // namespace

parsed<std::uint64_t> parse_size(std::string_view text) {
    using result = parsed<std::uint64_t>;
    auto nu = split(text, "size");
    if (!nu.ok) return result::failure(nu.error);
    std::string_view unit = nu.unit;
    unsigned shift = 0;
    if (!unit.empty()) {
        switch (upper(unit.front())) {
        case 'K': shift = 10; unit.remove_prefix(1); break;
        case 'M': shift = 20; unit.remove_prefix(1); break;
        case 'G': shift = 30; unit.remove_prefix(1); break;
        case 'T': shift = 40; unit.remove_prefix(1); break;
        default: break;
        }
    }
    if (!unit.empty() && upper(unit.front()) == 'B') unit.remove_prefix(1);
    if (!unit.empty())
        return result::failure("size " + quoted(text) +
                               " has an unknown unit; use a number of bytes or K, M, G, T "
                               "(binary: 500M = 500 MiB)");
    if (nu.number > (max_value >> shift))
        return result::failure("size " + quoted(text) + " is too large");
    return result::success(nu.number << shift);
}

std::string format_size(std::uint64_t bytes) {
    static constexpr char units[] = {'T', 'G', 'M', 'K'};
    static constexpr unsigned shifts[] = {40, 30, 20, 10};
    if (bytes == 0) return "0";
    for (std::size_t i = 0; i < 4; ++i) {
        std::uint64_t unit = std::uint64_t{1} << shifts[i];
        if (bytes % unit == 0) return std::to_string(bytes / unit) + units[i];
    }
    return std::to_string(bytes);
}

parsed<std::chrono::seconds> parse_duration(std::string_view text) {
    using result = parsed<std::chrono::seconds>;
    auto nu = split(text, "duration");
    if (!nu.ok) return result::failure(nu.error);
    std::uint64_t mult = 1;
    if (nu.unit.size() == 1) {
        switch (upper(nu.unit.front())) {
        case 'S': mult = 1; break;
        case 'M': mult = 60; break;
        case 'H': mult = 3600; break;
        case 'D': mult = 86400; break;
        default: mult = 0; break;
        }
    } else if (!nu.unit.empty()) {
        mult = 0;
    }
    if (mult == 0)
        return result::failure("duration " + quoted(text) +
                               " has an unknown unit; use seconds or s, m, h, d (e.g. 30s, 5m)");
    if (nu.number > max_value / mult)
        return result::failure("duration " + quoted(text) + " is too large");
    return result::success(std::chrono::seconds(static_cast<std::int64_t>(nu.number * mult)));
}

std::string format_duration(std::chrono::seconds d) {
    auto s = d.count();
    if (s != 0 && s % 86400 == 0) return std::to_string(s / 86400) + "d";
    if (s != 0 && s % 3600 == 0) return std::to_string(s / 3600) + "h";
    if (s != 0 && s % 60 == 0) return std::to_string(s / 60) + "m";
    return std::to_string(s) + "s";
}

} // namespace cartero::units
