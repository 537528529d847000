// core/log.hpp — key=value log lines on stderr (journald under systemd), one per event.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace cartero::log {

enum class level { debug, info, warning, error };

using field = std::pair<std::string_view, std::string_view>;

// Writes `event=<event> k=v k=v ...` as one line; values with spaces, quotes or '=' are
// double-quoted with escapes. Thread-safe (one write(2) per line).
void emit(level lv, std::string_view event, std::initializer_list<field> fields);

inline void info(std::string_view event, std::initializer_list<field> fields = {}) {
    emit(level::info, event, fields);
}
inline void warn(std::string_view event, std::initializer_list<field> fields = {}) {
    emit(level::warning, event, fields);
}
inline void error(std::string_view event, std::initializer_list<field> fields = {}) {
    emit(level::error, event, fields);
}

void set_min_level(level lv);

} // namespace cartero::log
