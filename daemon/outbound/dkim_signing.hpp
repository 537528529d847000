// daemon/outbound/dkim_signing.hpp — signs outbound mail with the active DKIM key(s) of the
// From domain (DESIGN.md Flow 2: "DKIM-signed at delivery with the sender domain's key").
#pragma once

#include "core/dkim_store.hpp"
#include "daemon/mailauth/dkim_signer.hpp"

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace cartero::outbound {

// The domain of the (first) From header's address, lower-cased; "" when there is none.
std::string from_domain(std::string_view message);

class dkim_signing {
public:
    // Replaces the key set (config.db changed). Keys whose file cannot be read are skipped with
    // a logged error: mail still goes out, unsigned, rather than waiting for the admin.
    void reload(const std::vector<config::dkim_key_row>& keys);

    // The message with one DKIM-Signature per active key of its From domain prepended, or the
    // message unchanged (shared) when the domain has no key. Thread-safe.
    std::shared_ptr<const std::string> sign(std::shared_ptr<const std::string> message,
                                            std::int64_t now) const;
    std::size_t keys() const;

private:
    mutable std::mutex mu_;
    std::map<std::string, std::vector<std::shared_ptr<const mailauth::signer>>> by_domain_;
};

} // namespace cartero::outbound
