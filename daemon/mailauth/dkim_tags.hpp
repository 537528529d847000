// daemon/mailauth/dkim_tags.hpp — the tag=value lists of DKIM-Signature fields and key records
// (RFC 6376 §3.2).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cartero::mailauth {

// A parsed tag list: tag names are case-sensitive (RFC 6376 §3.2), values have the FWS at their
// ends removed (inner FWS kept: b=, bh= and h= may be folded).
class tag_list {
  public:
    // nullopt on a syntax error: a tag-spec without '=', a bad tag name, a duplicate tag, or an
    // empty tag-spec anywhere but after the last ';'.
    static std::optional<tag_list> parse(std::string_view text);

    const std::string* find(std::string_view name) const;
    bool has(std::string_view name) const { return find(name) != nullptr; }
    const std::vector<std::pair<std::string, std::string>>& tags() const { return tags_; }

  private:
    std::vector<std::pair<std::string, std::string>> tags_;
};

// Splits on `sep` and trims FWS from each element ("from : to" → {"from", "to"}). An element
// that is empty after trimming is kept (callers decide if that is a syntax error).
std::vector<std::string> split_trimmed(std::string_view s, char sep);

// `s` with every space, tab, CR and LF removed.
std::string strip_fws(std::string_view s);

} // namespace cartero::mailauth
