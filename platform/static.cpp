// Linked into static builds only (make STATIC=1), ahead of the C library.
//
// c-ares calls getservbyname() for a service given by name and
// getservbyport_r() in ares_getnameinfo(). fanout asks for neither: it
// passes no service to ares_getaddrinfo (ports are numbers, from the URL)
// and does no reverse lookups. In a static glibc each of the two pulls in
// NSS, and with it the dynamic loader (NSS modules are dlopen()ed) and
// glibc's own resolver: 90 KB of a static fanout, for code that at run time
// needs the shared libraries of the glibc it was linked with anyway (the
// linker says so). Here no service has a name, as on a board without
// /etc/services.
#include <netdb.h>

#include <cstddef>

extern "C" {

struct servent* getservbyname(const char*, const char*) { return nullptr; }

int getservbyport_r(int, const char*, struct servent*, char*, size_t, struct servent** result) {
  *result = nullptr;
  return 0;
}

}  // extern "C"
