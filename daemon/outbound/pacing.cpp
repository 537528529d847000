// daemon/outbound/pacing.cpp — pattern matching of pacing rules.
#include "daemon/outbound/pacing.hpp"

#include "core/pacing_defaults.hpp"

namespace cartero::outbound {

namespace {
bool ends_with_label(std::string_view name, std::string_view suffix) {
    if (name == suffix) return true;
    return name.size() > suffix.size() && name.substr(name.size() - suffix.size()) == suffix &&
           name[name.size() - suffix.size() - 1] == '.';
}
} // namespace

std::vector<pacing_rule> pacing_table::shipped_rules() {
    std::vector<pacing_rule> out;
    for (const auto& r : config::shipped_pacing_rules)
        out.push_back({std::string(r.pattern), r.max_connections, r.messages_per_minute,
                       r.messages_per_connection, std::string(r.note)});
    return out;
}

void pacing_table::set_rules(std::vector<pacing_rule> admin_rules) { admin_ = std::move(admin_rules); }

// -1 = no match; higher = more specific.
int pacing_table::specificity(const pacing_rule& r, std::string_view domain, std::string_view mx) {
    std::string_view p = r.pattern;
    if (p.starts_with("mx:")) {
        p.remove_prefix(3);
        if (mx.empty()) return -1;
        if (p.starts_with("*.")) return ends_with_label(mx, p.substr(2)) ? static_cast<int>(p.size()) : -1;
        return mx == p ? 1000 : -1;
    }
    if (p.starts_with("*.")) {
        auto suffix = p.substr(2);
        return ends_with_label(domain, suffix) ? 2000 + static_cast<int>(suffix.size()) : -1;
    }
    return domain == p ? 10000 : -1;
}

pacing_limits pacing_table::limits_for(std::string_view domain, std::string_view mx_host) const {
    auto best = [&](const std::vector<pacing_rule>& rules) -> const pacing_rule* {
        const pacing_rule* found = nullptr;
        int score = -1;
        for (const auto& r : rules) {
            int s = specificity(r, domain, mx_host);
            if (s > score) {
                score = s;
                found = &r;
            }
        }
        return found;
    };
    pacing_limits out = defaults_;
    auto apply = [&](const pacing_rule* r) {
        if (!r) return;
        if (r->max_connections) out.max_connections = *r->max_connections;
        if (r->messages_per_minute) out.messages_per_minute = *r->messages_per_minute;
        if (r->messages_per_connection) out.messages_per_connection = *r->messages_per_connection;
    };
    // Shipped first, admin on top: an admin rule only overrides the fields it sets.
    apply(best(shipped_));
    apply(best(admin_));
    return out;
}

} // namespace cartero::outbound
