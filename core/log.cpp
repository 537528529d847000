// core/log.cpp — rendering of key=value log lines, with journald priority prefixes under systemd.
#include "core/log.hpp"

#include <atomic>
#include <cstdlib>
#include <unistd.h>

namespace cartero::log {

namespace {
std::atomic<int> min_level{static_cast<int>(level::info)};

bool needs_quotes(std::string_view v) {
    if (v.empty()) return true;
    for (unsigned char c : v)
        if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f) return true;
    return false;
}

void append_value(std::string& out, std::string_view v) {
    if (!needs_quotes(v)) {
        out += v;
        return;
    }
    out += '"';
    for (unsigned char c : v) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < ' ' || c == 0x7f) {
            static const char hex[] = "0123456789abcdef";
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        } else {
            out += static_cast<char>(c);
        }
    }
    out += '"';
}
} // namespace

void set_min_level(level lv) { min_level = static_cast<int>(lv); }

void emit(level lv, std::string_view event, std::initializer_list<field> fields) {
    if (static_cast<int>(lv) < min_level.load(std::memory_order_relaxed)) return;
    // sd-daemon(3) priority prefixes, only when stderr is journald's stream (systemd sets
    // JOURNAL_STREAM): journald maps them to PRIORITY=; on a terminal they are noise.
    static const bool journal = std::getenv("JOURNAL_STREAM") != nullptr;
    static const char* prefixes[] = {"<7>", "<6>", "<4>", "<3>"};
    static const char* names[] = {"level=debug ", "", "level=warning ", "level=error "};
    std::string line = journal ? prefixes[static_cast<int>(lv)] : names[static_cast<int>(lv)];
    line += "event=";
    line += event;
    for (const auto& [k, v] : fields) {
        line += ' ';
        line += k;
        line += '=';
        append_value(line, v);
    }
    line += '\n';
    std::size_t off = 0;
    while (off < line.size()) {
        ssize_t n = ::write(STDERR_FILENO, line.data() + off, line.size() - off);
        if (n <= 0) break;
        off += static_cast<std::size_t>(n);
    }
}

} // namespace cartero::log
