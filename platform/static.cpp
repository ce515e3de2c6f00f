// Linked into static builds only (make STATIC=1), ahead of the C library
// and libstdc++: two of their functions that a static fanout does without.
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
#include <cxxabi.h>
#include <netdb.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <typeinfo>

extern "C" {

struct servent* getservbyname(const char*, const char*) { return nullptr; }

int getservbyport_r(int, const char*, struct servent*, char*, size_t, struct servent** result) {
  *result = nullptr;
  return 0;
}

}  // extern "C"

// The default terminate handler prints an uncaught exception's type
// demangled, and the demangler is 47 KB of a static fanout (arm64). fanout
// throws nothing; what can reach here is libstdc++'s own (std::bad_alloc,
// std::length_error): its mangled type and what() say as much.
namespace __gnu_cxx {
void __verbose_terminate_handler() {
  const char* type = "";
  const char* what = "";
  if (const std::type_info* t = abi::__cxa_current_exception_type()) {
    type = t->name();
    try {
      throw;
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
  }
  fprintf(stderr, "fanout: terminate called%s%s%s%s\n", *type ? " after an uncaught " : "", type,
          *what ? ": " : "", what);
  abort();
}
}  // namespace __gnu_cxx
