// core/control_client.cpp — control_client over a plain Unix socket with poll() deadlines.
#include "core/control_client.hpp"

#include "core/control_protocol.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace cartero::control {

namespace {

using clock = std::chrono::steady_clock;

std::string seconds_text(std::chrono::milliseconds t) {
    if (t.count() % 1000 == 0) return std::to_string(t.count() / 1000) + " s";
    return std::to_string(t.count()) + " ms";
}

// Milliseconds left for poll(); 0 when the deadline has passed.
int left_ms(clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
    return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

} // namespace

control_client control_client::connect(const std::string& state_dir,
                                       std::chrono::milliseconds timeout) {
    const std::string path = socket_path(state_dir);
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        throw std::runtime_error(std::string("cannot create a Unix socket: ") +
                                 std::strerror(errno));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    // A Unix-socket connect does not wait for the server's accept (the backlog takes it), so
    // it needs no deadline of its own; a full backlog answers EAGAIN at once.
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        const int err = errno;
        ::close(fd);
        if (err == ENOENT)
            throw std::runtime_error("carterod is not running (no control socket at " + path + ")");
        if (err == ECONNREFUSED) // a socket file left by a carterod that was killed
            throw std::runtime_error("carterod is not running (nothing answers on " + path + ")");
        if (err == EAGAIN)
            throw std::runtime_error("carterod's control socket " + path +
                                     " is busy (too many waiting clients); try again");
        throw std::runtime_error("cannot reach carterod's control socket " + path + ": " +
                                 std::strerror(err));
    }
    return control_client(fd, path, timeout);
}

control_client::control_client(int fd, std::string path, std::chrono::milliseconds timeout)
    : fd_(fd), path_(std::move(path)), timeout_(timeout) {}

control_client::control_client(control_client&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)), path_(std::move(o.path_)), timeout_(o.timeout_),
      next_id_(o.next_id_), buf_(std::move(o.buf_)) {}

control_client& control_client::operator=(control_client&& o) noexcept {
    if (this != &o) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = std::exchange(o.fd_, -1);
        path_ = std::move(o.path_);
        timeout_ = o.timeout_;
        next_id_ = o.next_id_;
        buf_ = std::move(o.buf_);
    }
    return *this;
}

control_client::~control_client() {
    if (fd_ >= 0) ::close(fd_);
}

void control_client::send_all(std::string_view data, clock::time_point deadline,
                              std::string_view op) {
    while (!data.empty()) {
        ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            data.remove_prefix(static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            pollfd p{fd_, POLLOUT, 0};
            int ms = left_ms(deadline);
            if (ms == 0 || ::poll(&p, 1, ms) == 0)
                throw std::runtime_error("carterod did not take the " + std::string(op) +
                                         " request within " + seconds_text(timeout_));
            continue;
        }
        if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
            throw std::runtime_error("carterod closed the control connection");
        throw std::runtime_error(std::string("writing to the control socket: ") +
                                 std::strerror(errno));
    }
}

std::string control_client::read_line(clock::time_point deadline, std::string_view op) {
    for (;;) {
        auto nl = buf_.find('\n');
        if (nl != std::string::npos) {
            std::string line = buf_.substr(0, nl);
            buf_.erase(0, nl + 1);
            return line;
        }
        if (buf_.size() > max_response_bytes)
            throw std::runtime_error("carterod's answer to " + std::string(op) + " is larger than " +
                                     std::to_string(max_response_bytes) + " bytes");
        pollfd p{fd_, POLLIN, 0};
        int ms = left_ms(deadline);
        int r = ms == 0 ? 0 : ::poll(&p, 1, ms);
        if (r < 0 && errno == EINTR) continue;
        if (r == 0)
            throw std::runtime_error("carterod did not answer " + std::string(op) + " within " +
                                     seconds_text(timeout_));
        char chunk[65536];
        ssize_t n = ::recv(fd_, chunk, sizeof chunk, MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
        if (n < 0 && errno != ECONNRESET)
            throw std::runtime_error(std::string("reading from the control socket: ") +
                                     std::strerror(errno));
        if (n <= 0) throw std::runtime_error("carterod closed the control connection");
        buf_.append(chunk, static_cast<std::size_t>(n));
    }
}

nlohmann::json control_client::call(std::string_view op, const nlohmann::json& args) {
    if (fd_ < 0) throw std::runtime_error("control connection is closed");
    const auto deadline = clock::now() + timeout_;
    const std::int64_t id = next_id_++;
    send_all(request_line(id, op, args), deadline, op);
    for (;;) {
        response r = parse_response(read_line(deadline, op));
        // A response for an earlier, timed-out call on this connection is skipped.
        if (r.id.is_number_integer() && r.id.get<std::int64_t>() < id) continue;
        if (!r.ok) throw std::runtime_error(r.error);
        return std::move(r.result);
    }
}

} // namespace cartero::control
