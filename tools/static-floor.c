/* static-floor: the smallest static program that does what fanout's
 * libraries must: start c-ares and look a name up, and set up an mbedTLS
 * client with a CA file and a handshake, with printf for its output.
 * tools/footprint builds it static and stripped, as fanout's static build
 * is: its size is what Debian's static glibc, c-ares and mbedTLS cost before
 * a byte of fanout. It is never run. */
#include <ares.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/ssl.h>
#include <netdb.h>
#include <stdio.h>

/* As platform/static.cpp: no NSS. */
struct servent *getservbyname(const char *name, const char *proto) { (void)name; (void)proto; return NULL; }
int getservbyport_r(int port, const char *proto, struct servent *r, char *buf, size_t len, struct servent **res) {
  (void)port; (void)proto; (void)r; (void)buf; (void)len;
  *res = NULL;
  return 0;
}

static void answer(void *arg, int status, int timeouts, struct ares_addrinfo *ai) {
  (void)arg; (void)status; (void)timeouts;
  ares_freeaddrinfo(ai);
}

int main(int argc, char **argv) {
  ares_channel ch;
  struct ares_addrinfo_hints hints = {0};
  mbedtls_ssl_context ssl;
  mbedtls_ssl_config conf;
  mbedtls_x509_crt ca;
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
  char why[100];
  ares_library_init(ARES_LIB_INIT_ALL);
  ares_init(&ch);
  ares_getaddrinfo(ch, argv[0], NULL, &hints, answer, NULL);
  mbedtls_ssl_init(&ssl);
  mbedtls_ssl_config_init(&conf);
  mbedtls_x509_crt_init(&ca);
  mbedtls_entropy_init(&entropy);
  mbedtls_ctr_drbg_init(&drbg);
  mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, NULL, 0);
  mbedtls_x509_crt_parse_file(&ca, argc > 1 ? argv[1] : "ca.crt");
  mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
  mbedtls_ssl_conf_ca_chain(&conf, &ca, NULL);
  mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);
  mbedtls_ssl_setup(&ssl, &conf);
  mbedtls_ssl_set_hostname(&ssl, "localhost");
  mbedtls_strerror(mbedtls_ssl_handshake(&ssl), why, sizeof why);
  mbedtls_x509_crt_verify_info(why, sizeof why, "", mbedtls_ssl_get_verify_result(&ssl));
  printf("%s %.3f\n", why, argc * 1.5);
  return 0;
}
