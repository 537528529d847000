// tests/unit/policy/spam_message_test.cpp — what rules see: unfolded, RFC 2047-decoded headers,
// transfer-decoded text parts, From; removal of incoming X-Spam-* fields.
#include "daemon/policy/spam_message.hpp"

#include <catch2/catch.hpp>

using namespace cartero::policy;

TEST_CASE("spam message: headers unfolded and encoded words decoded") {
    auto m = read_spam_message("From: \"Shop <x>\" <Sales@Shop.EXAMPLE>\r\n"
                               "Subject: =?UTF-8?B?RnJlZSBtb25leQ==?=\r\n"
                               "  =?UTF-8?Q?_now=21?=\r\n"
                               "\r\nhello\r\n");
    REQUIRE(m.headers.size() == 2);
    CHECK(m.headers[1].first == "subject");
    CHECK(m.headers[1].second == "Free money now!");
    CHECK(m.from_address == "Sales@shop.example");
    CHECK(m.from_domain == "shop.example");
    CHECK(m.text.find("hello") != std::string::npos);
    CHECK(decode_encoded_words("plain =?iso-8859-1?q?caf=E9?= text") == "plain caf\xe9 text");
    CHECK(decode_encoded_words("=?broken") == "=?broken");
}

TEST_CASE("spam message: text parts are decoded, attachments skipped") {
    std::string msg = "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
                      "--b1\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                      "Q2xpY2sgaGVyZSB0byB3aW4=\r\n"
                      "--b1\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
                      "<b>lot=\r\ntery</b> =3D prize\r\n"
                      "--b1\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                      "U0VDUkVUIEFUVEFDSE1FTlQ=\r\n"
                      "--b1--\r\n";
    auto m = read_spam_message(msg);
    CHECK(m.text.find("Click here to win") != std::string::npos);
    CHECK(m.text.find("<b>lottery</b> = prize") != std::string::npos);
    CHECK(m.text.find("SECRET ATTACHMENT") == std::string::npos);
}

TEST_CASE("spam message: hostile structure stays bounded") {
    // 200 nested multiparts: depth and part limits stop the walk.
    std::string msg;
    for (int i = 0; i < 200; ++i)
        msg += "Content-Type: multipart/mixed; boundary=\"b" + std::to_string(i) + "\"\r\n\r\n--b" +
               std::to_string(i) + "\r\n";
    msg += "Content-Type: text/plain\r\n\r\ndeep text\r\n";
    auto m = read_spam_message(msg);
    CHECK(m.text.find("deep text") == std::string::npos);
    spam_message_limits lim;
    lim.max_text_bytes = 10;
    auto big = read_spam_message("Subject: x\r\n\r\n" + std::string(100000, 'a'), lim);
    CHECK(big.text.size() == 10);
}

TEST_CASE("spam message: incoming X-Spam-* fields are removed, folded lines too") {
    std::size_t n = 0;
    auto out = strip_spam_fields("Received: x\r\nX-Spam-Flag: NO\r\nx-spam-report: a\r\n\tb\r\n"
                                 "Subject: hi\r\n\r\nX-Spam-Flag: body text stays\r\n",
                                 &n);
    CHECK(n == 2);
    CHECK(out == "Received: x\r\nSubject: hi\r\n\r\nX-Spam-Flag: body text stays\r\n");
    CHECK(strip_spam_fields("Subject: a\r\n\r\nb", &n) == "Subject: a\r\n\r\nb");
    CHECK(n == 0);
}
