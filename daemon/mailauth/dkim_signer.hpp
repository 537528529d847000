// daemon/mailauth/dkim_signer.hpp — DKIM signing (RFC 6376 §5, RFC 8463): one signer per key,
// producing the DKIM-Signature field to prepend to a message.
#pragma once

#include "core/dkim_key.hpp"
#include "daemon/mailauth/dkim_crypto.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cartero::mailauth {

// RFC 6376 §5.4.1's recommended set plus the fields whose change alters what a reader sees
// (Sender, Message-ID, the MIME fields) and List-Unsubscribe-Post (RFC 8058 §4 wants it signed).
// Lower-case. Only the ones present in a message are listed in h=.
const std::vector<std::string>& default_signed_headers();

struct signer_options {
    std::vector<std::string> headers = default_signed_headers(); // candidates, any case
    // Listed in h= once more than they occur, so an added instance breaks the signature
    // (RFC 6376 §8.15). From is always over-signed, whatever this says.
    std::vector<std::string> oversign = {"from"};
    std::int64_t expire_after = 0; // > 0: x= = t= + this many seconds
};

// Signs with one key: relaxed/relaxed, a=rsa-sha256 or ed25519-sha256, t=, h=, bh=, b=.
// The private key is parsed once, here; sign() is const and may run on many threads at once.
class signer {
  public:
    // Throws std::runtime_error if the PEM does not hold a private key of `alg`'s type, or
    // std::invalid_argument if domain or selector is empty.
    signer(std::string domain, std::string selector, dkim::key_algorithm alg,
           std::string_view private_key_pem, signer_options options = {});

    // The complete "DKIM-Signature: ...\r\n" field (folded at <= 78 columns) to put on top of
    // `message` (CRLF line ends, as split_message() reads it). `now` is t= (Unix seconds).
    // From is always in h=: a message without one is signed as having none.
    std::string sign(std::string_view message, std::int64_t now) const;

    const std::string& domain() const { return domain_; }
    const std::string& selector() const { return selector_; }
    dkim::key_algorithm algorithm() const { return alg_; }

  private:
    std::string domain_, selector_;
    dkim::key_algorithm alg_;
    pkey_ptr key_;
    signer_options options_;
};

} // namespace cartero::mailauth
