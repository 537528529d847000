// tests/unit/mime/test_received_header.cpp — Received trace fields (RFC 5321 §4.4, RFC 3848).
#include "daemon/mime/received_header.hpp"

#include <catch2/catch.hpp>

using namespace cartero::mime;

TEST_CASE("dates are RFC 5322 in UTC") {
    CHECK(rfc5322_date(0) == "Thu, 01 Jan 1970 00:00:00 +0000");
    CHECK(rfc5322_date(1795417200) == "Mon, 23 Nov 2026 07:00:00 +0000");
}

TEST_CASE("protocol names follow RFC 3848 and for<> only with one recipient") {
    received_info r;
    r.helo = "client.example";
    r.client_ip = "192.0.2.7";
    r.by_host = "mx.example.com";
    r.queue_id = "Q1";
    r.when = 0;
    auto h = received_header(r);
    CHECK(h.rfind("Received: from client.example ([192.0.2.7])\r\n", 0) == 0);
    CHECK(h.find("with ESMTP id Q1") != std::string::npos);
    CHECK(h.find("for <") == std::string::npos);
    CHECK(h.substr(h.size() - 2) == "\r\n");
    r.tls = true;
    r.authenticated = true;
    r.tls_version = "TLSv1.3";
    r.tls_cipher = "TLS_AES_256_GCM_SHA384";
    r.single_recipient = "a@example.com";
    h = received_header(r);
    CHECK(h.find("with ESMTPSA id Q1") != std::string::npos);
    CHECK(h.find("(version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384)") != std::string::npos);
    CHECK(h.find("for <a@example.com>;") != std::string::npos);
}

TEST_CASE("a hostile HELO cannot inject lines or comments") {
    received_info r;
    r.helo = "evil\r\nX-Injected: yes (comment); more";
    r.client_ip = "192.0.2.7";
    r.by_host = "mx";
    r.queue_id = "Q";
    auto h = received_header(r);
    CHECK(h.find("\r\nX-Injected") == std::string::npos);
    CHECK(h.find("evil__X-Injected:_yes__comment__") != std::string::npos);
    // Every line but the first is a folded continuation.
    std::size_t pos = 0, lines = 0;
    while ((pos = h.find("\r\n", pos)) != std::string::npos) {
        pos += 2;
        ++lines;
        if (pos < h.size()) CHECK(h[pos] == '\t');
    }
    CHECK(lines >= 2);
}
