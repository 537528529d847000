// daemon/policy/network_list.hpp — the trusted networks, tested against a client's textual IP.
#pragma once

#include "core/daemon_settings.hpp"

#include <string_view>
#include <vector>

namespace cartero::policy {

// Networks come parsed and validated from the settings (config::parse_cidr); this adds the
// test a session needs: "is this peer address inside any of them?"
class network_list {
public:
    network_list() = default;
    explicit network_list(std::vector<config::cidr> nets) : nets_(std::move(nets)) {}
    bool contains(std::string_view ip) const; // false for text that is no IP address
    bool empty() const { return nets_.empty(); }

private:
    std::vector<config::cidr> nets_;
};

} // namespace cartero::policy
