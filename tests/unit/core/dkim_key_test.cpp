// tests/unit/core/dkim_key_test.cpp — DKIM key generation, TXT record values, the 0600 key file,
// and the dkim_keys store (errors change nothing).
#include "core/config_db.hpp"
#include "core/dkim_key.hpp"
#include "core/dkim_store.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <regex>

using namespace cartero;
using cartero::test::temp_dir;
using kind = config::config_error::kind;

namespace {

EVP_PKEY* load_pem(const std::string& pem) {
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    EVP_PKEY* k = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    return k;
}

std::string b64(const unsigned char* p, std::size_t n) {
    std::string out(4 * ((n + 2) / 3) + 1, '\0');
    out.resize(static_cast<std::size_t>(
        EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), p, static_cast<int>(n))));
    return out;
}

unsigned mode_of(const std::string& path) {
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::vector<std::string> files_under(const std::string& dir) {
    std::vector<std::string> out;
    if (!std::filesystem::exists(dir)) return out;
    for (auto& e : std::filesystem::recursive_directory_iterator(dir))
        out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
}

kind error_kind(auto&& f, std::string* what = nullptr) {
    try {
        f();
    } catch (const config::config_error& e) {
        if (what) *what = e.what();
        return e.which();
    }
    FAIL("no config_error thrown");
    return kind::storage;
}

} // namespace

TEST_CASE("to_string names the a= values") {
    CHECK(dkim::to_string(dkim::key_algorithm::rsa) == "rsa-sha256");
    CHECK(dkim::to_string(dkim::key_algorithm::ed25519) == "ed25519-sha256");
}

TEST_CASE("generated RSA keys load back and match their p= value") {
    auto k = dkim::generate_key(dkim::key_algorithm::rsa);
    CHECK(k.algorithm == dkim::key_algorithm::rsa);
    EVP_PKEY* pkey = load_pem(k.private_key_pem);
    REQUIRE(pkey);
    CHECK(EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA);
    CHECK(EVP_PKEY_get_bits(pkey) == 2048);
    BIGNUM* e = nullptr;
    REQUIRE(EVP_PKEY_get_bn_param(pkey, "e", &e) == 1);
    CHECK(BN_get_word(e) == 65537);
    BN_free(e);
    unsigned char* der = nullptr;
    int len = i2d_PUBKEY(pkey, &der);
    CHECK(b64(der, static_cast<std::size_t>(len)) == k.public_key_b64);
    OPENSSL_free(der);
    EVP_PKEY_free(pkey);
    CHECK(k.private_key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    // SPKI of a 2048-bit key: 294 octets → 392 base64 characters, starting "MIIBIjANBgkqhkiG9w0B"
    CHECK(k.public_key_b64.size() == 392);
    CHECK(k.public_key_b64.starts_with("MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A"));
}

TEST_CASE("generated Ed25519 keys load back; p= is the raw 32 octets") {
    auto k = dkim::generate_key(dkim::key_algorithm::ed25519);
    EVP_PKEY* pkey = load_pem(k.private_key_pem);
    REQUIRE(pkey);
    CHECK(EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519);
    unsigned char raw[32];
    std::size_t n = sizeof raw;
    REQUIRE(EVP_PKEY_get_raw_public_key(pkey, raw, &n) == 1);
    CHECK(b64(raw, n) == k.public_key_b64);
    CHECK(k.public_key_b64.size() == 44);
    EVP_PKEY_free(pkey);
    // two keys differ
    CHECK(dkim::generate_key(dkim::key_algorithm::ed25519).public_key_b64 != k.public_key_b64);
}

TEST_CASE("dns_record_value") {
    CHECK(dkim::dns_record_value(dkim::key_algorithm::rsa, "MIIB") == "v=DKIM1; k=rsa; p=MIIB");
    CHECK(dkim::dns_record_value(dkim::key_algorithm::ed25519, "abc=") ==
          "v=DKIM1; k=ed25519; p=abc=");
    auto k = dkim::generate_key(dkim::key_algorithm::rsa);
    std::regex well_formed("v=DKIM1; k=rsa; p=[A-Za-z0-9+/]+={0,2}");
    CHECK(std::regex_match(dkim::dns_record_value(k.algorithm, k.public_key_b64), well_formed));
}

TEST_CASE("write_private_key: 0600 file, 0700 directories, replaced atomically") {
    temp_dir t;
    std::string path = t.path("dkim/example.com/sel.key");
    ::umask(022);
    dkim::write_private_key(path, "PEM ONE\n");
    CHECK(slurp(path) == "PEM ONE\n");
    CHECK(mode_of(path) == 0600);
    CHECK(mode_of(t.path("dkim")) == 0700);
    CHECK(mode_of(t.path("dkim/example.com")) == 0700);
    dkim::write_private_key(path, "PEM TWO\n");
    CHECK(slurp(path) == "PEM TWO\n");
    CHECK(files_under(t.path("dkim/example.com")).size() == 1); // no tmp file left behind
    // a path whose directory cannot be created
    std::ofstream(t.path("plainfile")) << "x";
    CHECK_THROWS_AS(dkim::write_private_key(t.path("plainfile/sub/k.key"), "x"),
                    std::runtime_error);
}

TEST_CASE("dkim store: generate, list, disable, enable, remove") {
    temp_dir t;
    config::config_db db(t.path("config.db"), true);
    db.add_domain("example.com");
    db.add_domain("example.org");
    std::string state = t.path();

    auto row =
        config::generate_dkim_key(db, state, "Example.COM", "Sel1", dkim::key_algorithm::rsa);
    CHECK(row.domain == "example.com");
    CHECK(row.selector == "sel1");
    CHECK(row.algorithm == "rsa-sha256");
    CHECK(row.private_key_path == state + "/dkim/example.com/sel1.key");
    CHECK(row.active);
    CHECK(row.created_at > 0);
    CHECK(mode_of(row.private_key_path) == 0600);
    EVP_PKEY* pkey = load_pem(slurp(row.private_key_path));
    REQUIRE(pkey);
    unsigned char* der = nullptr;
    int len = i2d_PUBKEY(pkey, &der);
    CHECK(b64(der, static_cast<std::size_t>(len)) == row.public_key);
    OPENSSL_free(der);
    EVP_PKEY_free(pkey);

    auto ed =
        config::generate_dkim_key(db, state, "example.org", "e1", dkim::key_algorithm::ed25519);
    CHECK(ed.algorithm == "ed25519-sha256");
    config::generate_dkim_key(db, state, "example.com", "a0", dkim::key_algorithm::ed25519);

    auto all = config::list_dkim_keys(db);
    REQUIRE(all.size() == 3);
    CHECK(all[0].selector == "a0");
    CHECK(all[1].selector == "sel1");
    CHECK(all[2].domain == "example.org");
    CHECK(config::list_dkim_keys(db, "example.org").size() == 1);

    config::set_dkim_key_active(db, "example.com", "SEL1", false);
    CHECK_FALSE(config::list_dkim_keys(db, "example.com")[1].active);
    config::set_dkim_key_active(db, "example.com", "sel1", true);
    CHECK(config::list_dkim_keys(db, "example.com")[1].active);

    config::remove_dkim_key(db, "example.com", "sel1");
    CHECK_FALSE(std::filesystem::exists(row.private_key_path));
    CHECK(config::list_dkim_keys(db, "example.com").size() == 1);
}

TEST_CASE("dkim store: errors name the problem and change nothing") {
    temp_dir t;
    config::config_db db(t.path("config.db"), true);
    db.add_domain("example.com");
    std::string state = t.path();
    auto first =
        config::generate_dkim_key(db, state, "example.com", "s1", dkim::key_algorithm::rsa);
    std::string first_pem = slurp(first.private_key_path);
    auto before_rows = config::list_dkim_keys(db);
    auto before_files = files_under(t.path("dkim"));

    auto unchanged = [&] {
        auto rows = config::list_dkim_keys(db);
        REQUIRE(rows.size() == before_rows.size());
        CHECK(rows[0].public_key == before_rows[0].public_key);
        CHECK(files_under(t.path("dkim")) == before_files);
        CHECK(slurp(first.private_key_path) == first_pem);
    };

    std::string what;
    CHECK(error_kind(
              [&] {
                  config::generate_dkim_key(db, state, "nope.com", "s1", dkim::key_algorithm::rsa);
              },
              &what) == kind::not_found);
    CHECK(what.find("carteroctl domain add nope.com") != std::string::npos);
    unchanged();
    CHECK(error_kind([&] {
              config::generate_dkim_key(db, state, "not a domain", "s1", dkim::key_algorithm::rsa);
          }) == kind::invalid);
    for (const char* bad : {"", "-x", "x-", "a_b", "a.b", "ü",
                            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}) {
        INFO(bad);
        CHECK(error_kind([&] {
                  config::generate_dkim_key(db, state, "example.com", bad,
                                            dkim::key_algorithm::ed25519);
              }) == kind::invalid);
    }
    unchanged();
    CHECK(error_kind(
              [&] {
                  config::generate_dkim_key(db, state, "example.com", "S1",
                                            dkim::key_algorithm::ed25519);
              },
              &what) == kind::conflict);
    CHECK(what.find("already exists") != std::string::npos);
    unchanged();
    CHECK(error_kind([&] { config::set_dkim_key_active(db, "example.com", "nope", false); }) ==
          kind::not_found);
    CHECK(error_kind([&] { config::remove_dkim_key(db, "example.com", "nope"); }) ==
          kind::not_found);
    CHECK(error_kind([&] { config::list_dkim_keys(db, "nope.com"); }) == kind::not_found);
    unchanged();

    // the key file cannot be written (dkim/ is a file): storage error, no row
    temp_dir t2;
    config::config_db db2(t2.path("config.db"), true);
    db2.add_domain("example.com");
    std::ofstream(t2.path("dkim")) << "in the way";
    CHECK(error_kind([&] {
              config::generate_dkim_key(db2, t2.path(), "example.com", "s1",
                                        dkim::key_algorithm::ed25519);
          }) == kind::storage);
    CHECK(config::list_dkim_keys(db2).empty());

    // the insert fails after the file was written (a trigger refuses it): the file goes again
    std::filesystem::remove(t2.path("dkim"));
    REQUIRE(sqlite3_exec(db2.handle(),
                         "CREATE TEMP TRIGGER refuse BEFORE INSERT ON dkim_keys "
                         "BEGIN SELECT RAISE(ABORT, 'refused by test'); END",
                         nullptr, nullptr, nullptr) == SQLITE_OK);
    CHECK(error_kind(
              [&] {
                  config::generate_dkim_key(db2, t2.path(), "example.com", "s1",
                                            dkim::key_algorithm::ed25519);
              },
              &what) == kind::conflict);
    CHECK(what.find("refused by test") != std::string::npos);
    CHECK(config::list_dkim_keys(db2).empty());
    CHECK_FALSE(std::filesystem::exists(t2.path("dkim/example.com/s1.key")));
}

namespace {

std::string stored_path(config::config_db& db, const std::string& selector) {
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db.handle(), "SELECT private_key_path FROM dkim_keys WHERE selector = ?1",
                               -1, &st, nullptr) == SQLITE_OK);
    sqlite3_bind_text(st, 1, selector.c_str(), -1, SQLITE_TRANSIENT);
    std::string out;
    if (sqlite3_step(st) == SQLITE_ROW)
        out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return out;
}

} // namespace

TEST_CASE("dkim store: key paths are stored relative to the state dir and survive a move") {
    temp_dir t;
    const std::string before = t.path("before"), after = t.path("after");
    std::filesystem::create_directory(before);
    std::string pem;
    {
        config::config_db db(before + "/config.db", true);
        db.add_domain("example.com");
        auto row = config::generate_dkim_key(db, before, "example.com", "s1",
                                             dkim::key_algorithm::ed25519);
        CHECK(row.private_key_path == before + "/dkim/example.com/s1.key");
        CHECK(stored_path(db, "s1") == "dkim/example.com/s1.key");
        pem = slurp(row.private_key_path);
        REQUIRE_FALSE(pem.empty());
    }
    std::filesystem::rename(before, after);
    config::config_db db(after + "/config.db", false);
    auto rows = config::list_dkim_keys(db);
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].private_key_path == after + "/dkim/example.com/s1.key");
    CHECK(slurp(rows[0].private_key_path) == pem);

    // A row written before paths became relative keeps its absolute path.
    const std::string old_key = t.path("elsewhere.key");
    std::ofstream(old_key) << pem;
    REQUIRE(sqlite3_exec(db.handle(),
                         ("INSERT INTO dkim_keys (domain_id, selector, algorithm, private_key_path, "
                          "public_key, active) SELECT id, 'old', 'ed25519-sha256', '" + old_key +
                          "', 'x', 1 FROM domains")
                             .c_str(),
                         nullptr, nullptr, nullptr) == SQLITE_OK);
    rows = config::list_dkim_keys(db);
    REQUIRE(rows.size() == 2);
    CHECK(rows[0].selector == "old");
    CHECK(rows[0].private_key_path == old_key);
    // remove works on both forms: the resolved file goes with the row.
    config::remove_dkim_key(db, "example.com", "s1");
    CHECK_FALSE(std::filesystem::exists(after + "/dkim/example.com/s1.key"));
    config::remove_dkim_key(db, "example.com", "old");
    CHECK_FALSE(std::filesystem::exists(old_key));

    // A state_dir that is not config.db's directory: the absolute path is stored instead of a
    // relative one that would not resolve.
    const std::string other = t.path("other");
    std::filesystem::create_directory(other);
    auto row = config::generate_dkim_key(db, other, "example.com", "s2", dkim::key_algorithm::ed25519);
    CHECK(stored_path(db, "s2") == other + "/dkim/example.com/s2.key");
    CHECK(row.private_key_path == other + "/dkim/example.com/s2.key");
}
