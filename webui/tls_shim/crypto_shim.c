/* webui/tls_shim/crypto_shim.c — SONAME libcrypto.so: CivetWeb dlopen()s the unversioned
 * "libcrypto.so" (libssl-dev only); this empty library pulls in libcrypto.so.3 as its DT_NEEDED,
 * and dlsym() through its handle finds libcrypto's symbols. See ssl_shim.c. */
int cartero_crypto_shim_present(void);
int cartero_crypto_shim_present(void) { return 1; }
