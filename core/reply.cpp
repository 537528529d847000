// core/reply.cpp — wire and log rendering of replies.
#include "core/reply.hpp"

namespace cartero {

std::string reply::wire() const {
    std::string out;
    const std::string code_s = std::to_string(code);
    const std::size_t n = lines.empty() ? 1 : lines.size();
    for (std::size_t i = 0; i < n; ++i) {
        out += code_s;
        out += (i + 1 < n) ? '-' : ' ';
        if (!enhanced.empty()) {
            out += enhanced;
            out += ' ';
        }
        if (i < lines.size()) out += lines[i];
        out += "\r\n";
    }
    return out;
}

std::string reply::summary() const {
    std::string out = std::to_string(code);
    if (!enhanced.empty()) out += " " + enhanced;
    if (!lines.empty()) out += " " + lines.front();
    return out;
}

} // namespace cartero
