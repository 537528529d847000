/* webui/tls_shim/ssl_shim.c — SONAME libssl.so: lets Debian's CivetWeb 1.15 speak TLS with OpenSSL 3.
 * CivetWeb dlopen()s the unversioned "libssl.so" (shipped only by libssl-dev) and looks up
 * SSL_get_peer_certificate, which OpenSSL 3 exports only as SSL_get1_peer_certificate. This
 * library is linked into cartero-panel as DT_NEEDED (found through its RUNPATH), so the dlopen
 * finds it already loaded by SONAME; everything else resolves through its own DT_NEEDED
 * libssl.so.3. See DESIGN.md, Dependencies, "web panel". */
#include <openssl/ssl.h>

#undef SSL_get_peer_certificate
X509 *SSL_get_peer_certificate(const SSL *s);
X509 *SSL_get_peer_certificate(const SSL *s) { return SSL_get1_peer_certificate(s); }
