// certgen: makes the test PKI the tests and `make demo` use, with mbedTLS
// (no openssl needed). Writes into DIR:
//   ca.crt         a test CA (EC P-256)
//   server.key     the one key every server certificate below uses
//   server.crt     CN=localhost, SAN localhost, signed by the CA, valid from
//                  yesterday for 20 years
//   expired.crt    the same, valid from 2 years ago to 1 year ago
//   notyet.crt     the same, valid from a year from now
//   wronghost.crt  CN=wrong.example, SAN wrong.example
//   keyusage.crt   key agreement only: not for signing a key exchange
//   selfsigned.crt CN=localhost, signed by its own key
//   untrusted.crt  CN=localhost, signed by another CA, not in ca.crt
//   badsig.crt     server.crt's twin with a byte of its signature changed
//   ip.crt         CN=127.0.0.1, SAN IP 127.0.0.1 and IP ::1 (no name)
// Every date is from the time it runs, so the tests that make them at
// run time never expire.
// usage: certgen DIR
#include <algorithm>
#include <arpa/inet.h>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>
#include <string>
#include <sys/stat.h>

namespace {

mbedtls_entropy_context g_entropy;
mbedtls_ctr_drbg_context g_drbg;

[[noreturn]] void die(const char* what, int r) {
  fprintf(stderr, "certgen: %s failed (-0x%04x)\n", what, unsigned(-r));
  exit(1);
}

void check(const char* what, int r) {
  if (r != 0) die(what, r);
}

void write_file(const std::string& path, const unsigned char* pem) {
  FILE* f = fopen(path.c_str(), "w");
  if (!f || fputs(reinterpret_cast<const char*>(pem), f) < 0 || fclose(f) != 0) {
    perror(path.c_str());
    exit(1);
  }
}

void gen_key(mbedtls_pk_context& pk) {
  mbedtls_pk_init(&pk);
  check("pk_setup", mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)));
  check("ecp_gen_key", mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(pk),
                                           mbedtls_ctr_drbg_random, &g_drbg));
}

// subjectAltName: SEQUENCE { [2] IA5String dNSName | [7] OCTET STRING
// iPAddress ... }, from "name" or "IP:127.0.0.1,IP:::1".
std::string san_der(const std::string& names) {
  std::string in;
  for (size_t at = 0; at <= names.size();) {
    size_t comma = std::min(names.find(',', at), names.size());
    std::string n = names.substr(at, comma - at);
    at = comma + 1;
    if (n.rfind("IP:", 0) == 0) {
      unsigned char a[16];
      bool v6 = n.find(':', 3) != std::string::npos;
      if (inet_pton(v6 ? AF_INET6 : AF_INET, n.c_str() + 3, a) != 1) die("inet_pton", -1);
      in += char(0x87);
      in += char(v6 ? 16 : 4);
      in.append(reinterpret_cast<char*>(a), v6 ? 16 : 4);
    } else {
      in += char(0x82);
      in += char(n.size());
      in += n;
    }
  }
  return std::string(1, char(0x30)) + char(in.size()) + in;
}

void write_cert(const std::string& path, mbedtls_pk_context& subject_key, mbedtls_pk_context& issuer_key,
                const char* subject, const char* issuer, bool is_ca, const char* from, const char* to,
                const char* dns_name, int serial, unsigned char usage = 0, bool bad_signature = false) {
  mbedtls_x509write_cert c;
  mbedtls_x509write_crt_init(&c);
  mbedtls_mpi sn;
  mbedtls_mpi_init(&sn);
  check("mpi_lset", mbedtls_mpi_lset(&sn, serial));
  mbedtls_x509write_crt_set_version(&c, MBEDTLS_X509_CRT_VERSION_3);
  mbedtls_x509write_crt_set_md_alg(&c, MBEDTLS_MD_SHA256);
  mbedtls_x509write_crt_set_subject_key(&c, &subject_key);
  mbedtls_x509write_crt_set_issuer_key(&c, &issuer_key);
  check("set_serial", mbedtls_x509write_crt_set_serial(&c, &sn));
  check("set_validity", mbedtls_x509write_crt_set_validity(&c, from, to));
  check("set_subject_name", mbedtls_x509write_crt_set_subject_name(&c, subject));
  check("set_issuer_name", mbedtls_x509write_crt_set_issuer_name(&c, issuer));
  check("set_basic_constraints", mbedtls_x509write_crt_set_basic_constraints(&c, is_ca, is_ca ? 0 : -1));
  check("set_subject_key_identifier", mbedtls_x509write_crt_set_subject_key_identifier(&c));
  check("set_authority_key_identifier", mbedtls_x509write_crt_set_authority_key_identifier(&c));
  check("set_key_usage", mbedtls_x509write_crt_set_key_usage(
                             &c, usage ? usage
                                 : is_ca ? MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN
                                         : MBEDTLS_X509_KU_DIGITAL_SIGNATURE));
  if (dns_name) {
    std::string san = san_der(dns_name);
    check("set_extension(subjectAltName)",
          mbedtls_x509write_crt_set_extension(&c, MBEDTLS_OID_SUBJECT_ALT_NAME,
                                              MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0,
                                              reinterpret_cast<const unsigned char*>(san.data()), san.size()));
  }
  unsigned char der[4096], pem[4096];
  int len = mbedtls_x509write_crt_der(&c, der, sizeof der, mbedtls_ctr_drbg_random, &g_drbg);
  if (len < 0) die("crt_der", len);
  unsigned char* start = der + sizeof der - len;  // written at the end of the buffer
  if (bad_signature) der[sizeof der - 1] ^= 0x01;  // the last byte of the signature's s
  size_t olen = 0;
  check("pem_write_buffer", mbedtls_pem_write_buffer("-----BEGIN CERTIFICATE-----\n", "-----END CERTIFICATE-----\n",
                                                     start, size_t(len), pem, sizeof pem, &olen));
  write_file(path, pem);
  mbedtls_x509write_crt_free(&c);
  mbedtls_mpi_free(&sn);
}

// "YYYYMMDDhhmmss" (UTC): now, and years and days from it. The years go
// on the date, not on time_t, which ends in 2038 on 32-bit boards.
std::string stamp(int years, int days = 0) {
  time_t t = time(nullptr) + time_t(days) * 86400;
  tm u{};
  gmtime_r(&t, &u);
  if (u.tm_mon == 1 && u.tm_mday == 29) u.tm_mday = 28;  // a year on, no Feb 29
  char buf[32];
  snprintf(buf, sizeof buf, "%04d%02d%02d%02d%02d%02d", u.tm_year + 1900 + years, u.tm_mon + 1, u.tm_mday, u.tm_hour,
           u.tm_min, u.tm_sec);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  const char usage[] = "usage: certgen DIR\nWrites the test CA and server certificates (ca.crt, server.crt ...) into DIR.\n";
  if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
    fputs(usage, stdout);
    return 0;
  }
  if (argc != 2 || argv[1][0] == '-') {
    fprintf(stderr, "%s", usage);
    return 2;
  }
  std::string dir = argv[1];
  mkdir(dir.c_str(), 0755);
  mbedtls_entropy_init(&g_entropy);
  mbedtls_ctr_drbg_init(&g_drbg);
  check("drbg_seed", mbedtls_ctr_drbg_seed(&g_drbg, mbedtls_entropy_func, &g_entropy, nullptr, 0));

  mbedtls_pk_context ca, other_ca, server;
  gen_key(ca);
  gen_key(other_ca);
  gen_key(server);
  std::string yesterday = stamp(0, -1), in20 = stamp(20), in30 = stamp(30);
  const char *ca_name = "CN=fanout test CA,O=fanout", *other_name = "CN=another test CA,O=elsewhere";
  const char* host = "CN=localhost,O=fanout";
  write_cert(dir + "/ca.crt", ca, ca, ca_name, ca_name, true, yesterday.c_str(), in30.c_str(), nullptr, 1);
  write_cert(dir + "/server.crt", server, ca, host, ca_name, false, yesterday.c_str(), in20.c_str(), "localhost", 2);
  write_cert(dir + "/expired.crt", server, ca, host, ca_name, false, stamp(-2).c_str(), stamp(-1).c_str(),
             "localhost", 3);
  write_cert(dir + "/notyet.crt", server, ca, host, ca_name, false, stamp(1).c_str(), stamp(2).c_str(),
             "localhost", 6);
  write_cert(dir + "/wronghost.crt", server, ca, "CN=wrong.example,O=fanout", ca_name, false, yesterday.c_str(),
             in20.c_str(), "wrong.example", 4);
  // Key agreement only: a server may not sign an ECDHE exchange with it.
  write_cert(dir + "/keyusage.crt", server, ca, host, ca_name, false, yesterday.c_str(), in20.c_str(), "localhost", 5,
             MBEDTLS_X509_KU_KEY_AGREEMENT);
  write_cert(dir + "/selfsigned.crt", server, server, host, host, false, yesterday.c_str(), in20.c_str(), "localhost", 7);
  write_cert(dir + "/untrusted.crt", server, other_ca, host, other_name, false, yesterday.c_str(), in20.c_str(),
             "localhost", 8);
  // For an address: SAN iPAddress 127.0.0.1 and ::1 (and no dNSName).
  write_cert(dir + "/ip.crt", server, ca, "CN=127.0.0.1,O=fanout", ca_name, false, yesterday.c_str(), in20.c_str(),
             "IP:127.0.0.1,IP:::1", 10);
  write_cert(dir + "/badsig.crt", server, ca, host, ca_name, false, yesterday.c_str(), in20.c_str(), "localhost", 9, 0,
             true);
  unsigned char pem[4096];
  check("write_key_pem", mbedtls_pk_write_key_pem(&server, pem, sizeof pem));
  write_file(dir + "/server.key", pem);
  mbedtls_pk_free(&ca);
  mbedtls_pk_free(&other_ca);
  mbedtls_pk_free(&server);
  mbedtls_ctr_drbg_free(&g_drbg);
  mbedtls_entropy_free(&g_entropy);
  return 0;
}
