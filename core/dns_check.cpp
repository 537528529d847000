// core/dns_check.cpp — one expected record against what the resolver finds.
#include "core/dns_check.hpp"

#include "core/address_norm.hpp"

#include <algorithm>
#include <iterator>
#include <utility>

namespace cartero::dns {

namespace {

std::string lower(std::string s) { return names::ascii_lower(s); }

bool related(const dns_record& want, const std::string& got) {
    if (want.type != "TXT") return true;
    auto tag = want.value.substr(0, want.value.find(';'));
    tag = tag.substr(0, tag.find(' '));
    return lower(got).starts_with(lower(tag));
}

bool same(const dns_record& want, const std::string& got) {
    if (want.type == "TXT") return want.value == got;
    return lower(want.value) == lower(got);
}

} // namespace

record_check check_record(resolver& res, const dns_record& want) {
    static const std::pair<const char*, rr_type> types[] = {
        {"A", rr_type::a},     {"AAAA", rr_type::aaaa}, {"MX", rr_type::mx},
        {"TXT", rr_type::txt}, {"SRV", rr_type::srv},   {"CNAME", rr_type::cname},
        {"PTR", rr_type::ptr}};
    auto t = std::find_if(std::begin(types), std::end(types),
                          [&](const auto& p) { return want.type == p.first; });
    if (t == std::end(types)) return {"error", "record type not checked"};
    auto a = res.lookup(want.name, t->second);
    if (a.st == status::nxdomain || a.st == status::nodata) return {"missing", ""};
    if (!a.ok())
        return {"error", std::string(to_string(a.st)) + (a.why.empty() ? "" : ": " + a.why)};
    std::string found;
    bool any_related = false;
    for (const auto& got : a.records) {
        if (same(want, got)) return {"ok", ""};
        if (!related(want, got)) continue;
        any_related = true;
        found += (found.empty() ? "" : " | ") + got;
    }
    return any_related ? record_check{"different", found} : record_check{"missing", ""};
}

record_check check_ptr(resolver& res, const std::string& address, int family,
                       const std::string& hostname) {
    dns_record ptr{reverse_name(address), "PTR", 3600, hostname + ".", true, ""};
    auto v = check_record(res, ptr);
    if (v.state != "ok") return v;
    auto fwd = res.lookup(hostname, family == 6 ? rr_type::aaaa : rr_type::a);
    bool confirmed = fwd.ok() && std::find(fwd.records.begin(), fwd.records.end(), address) !=
                                     fwd.records.end();
    if (!confirmed)
        return {"different", "not forward-confirmed: " + hostname + " does not resolve to " + address};
    return {"ok", "forward-confirmed"};
}

} // namespace cartero::dns
