// daemon/app/verp_key.cpp — creates and reads <state>/verp.key.
#include "daemon/app/verp_key.hpp"

#include <openssl/rand.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace cartero::app {

namespace {

bool valid_key(const std::string& k) {
    if (k.size() != 64) return false;
    for (char c : k)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

std::string read_key(const std::filesystem::path& p) {
    std::ifstream in(p);
    std::string k;
    if (!in || !std::getline(in, k)) throw std::runtime_error("cannot read " + p.string());
    if (!valid_key(k))
        throw std::runtime_error(p.string() + " does not hold a VERP key (64 hex characters)");
    return k;
}

} // namespace

std::string load_or_create_verp_key(const std::filesystem::path& state_dir) {
    const auto p = state_dir / "verp.key";
    if (std::filesystem::exists(p)) return read_key(p);
    unsigned char raw[32];
    if (RAND_bytes(raw, sizeof raw) != 1) throw std::runtime_error("no random bytes for verp.key");
    static const char hex[] = "0123456789abcdef";
    std::string k;
    for (unsigned char b : raw) {
        k += hex[b >> 4];
        k += hex[b & 15];
    }
    const std::string tmp = (state_dir / "verp.key.tmp").string();
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) throw std::runtime_error("cannot create " + tmp + ": " + std::strerror(errno));
    const std::string line = k + "\n";
    bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
              ::fsync(fd) == 0;
    ok = ::close(fd) == 0 && ok;
    // link() fails if another process created the key meanwhile: then theirs is the key.
    if (!ok || (::link(tmp.c_str(), p.c_str()) != 0 && errno != EEXIST)) {
        const std::string why = std::strerror(errno);
        ::unlink(tmp.c_str());
        throw std::runtime_error("cannot write " + p.string() + ": " + why);
    }
    ::unlink(tmp.c_str());
    return read_key(p);
}

} // namespace cartero::app
