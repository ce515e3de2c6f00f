# fanout — a flat Makefile. User CXXFLAGS/LDFLAGS pass through; project flags
# live in FANOUT_* so they are never lost when the user sets their own.
#   make [V=1] [SANITIZER=address|undefined|thread] [STATIC=1] [BACKEND=poll]
#   make CROSS_COMPILE=aarch64-linux-gnu-        (cross build; no uname here)
#   make ARCH=arm64|armhf|mipsel                  (the same, by Debian's name,
#        in build/ARCH; make deps ARCH=... installs what it needs, and
#        make cross-check ARCH=... runs the tests under qemu-user)

VERSION       := 0.1.0
ARCH          ?=
ifeq ($(ARCH),arm64)
TRIPLE := aarch64-linux-gnu
QEMU   := qemu-aarch64
else ifeq ($(ARCH),armhf)
TRIPLE := arm-linux-gnueabihf
QEMU   := qemu-arm
else ifeq ($(ARCH),mipsel)
TRIPLE := mipsel-linux-gnu
QEMU   := qemu-mipsel
else ifneq ($(ARCH),)
$(error ARCH=$(ARCH): this Makefile knows arm64, armhf and mipsel)
endif
ifneq ($(ARCH),)
CROSS_COMPILE ?= $(TRIPLE)-
endif
CROSS_COMPILE ?=
ifeq ($(origin CXX),default)
CXX           := $(CROSS_COMPILE)g++
endif
PKG_CONFIG    ?= $(CROSS_COMPILE)pkg-config
# Each variant builds apart, so none overwrites another's objects.
comma         := ,
ifneq ($(ARCH),)
BUILD         ?= build/$(ARCH)$(if $(STATIC),-static)
else ifneq ($(SANITIZER),)
BUILD         ?= build/sanitize-$(subst $(comma),-,$(SANITIZER))
else ifneq ($(BACKEND),)
BUILD         ?= build/backend-$(BACKEND)
else ifneq ($(STATIC),)
BUILD         ?= build/static
else
BUILD         ?= build
endif
PREFIX        ?= /usr/local
DESTDIR       ?=
BACKEND       ?=
SANITIZER     ?=
STATIC        ?=
CXXFLAGS      ?= -g
LDFLAGS       ?=

# _FILE_OFFSET_BITS=64: files and inode numbers past 2^31 on 32-bit boards too
# (no off_t crosses into c-ares' or mbedTLS' API).
FANOUT_CXXFLAGS := -std=c++20 -Wall -Wextra -Werror -pthread -MMD -MP -D_FILE_OFFSET_BITS=64 \
                   -Iinclude -Iplatform -DFANOUT_VERSION='"$(VERSION)"'
CARES_LIBS    := $(shell $(PKG_CONFIG) --libs libcares 2>/dev/null || echo -lcares)
# Debian's mbedTLS ships no pkg-config file.
FANOUT_LIBS   := $(CARES_LIBS) -lmbedtls -lmbedx509 -lmbedcrypto -pthread
# 32-bit MIPS has no 64-bit atomic instructions: libatomic does them.
ifneq ($(findstring mips,$(CROSS_COMPILE)),)
FANOUT_LIBS   += -latomic
endif
# 32-bit ARM: GCC's notes that an ABI changed in GCC 7.1 say nothing here.
ifneq ($(findstring arm-,$(CROSS_COMPILE)),)
FANOUT_CXXFLAGS += -Wno-psabi
endif
# ARM's linker lays segments out for 64 KB pages, which pads the file to
# the next 64 KB after the read-only data (32 KB of a 266 KB arm64 fanout).
# Boards run 4 KB pages (16 KB on a Raspberry Pi 5), so 16 KB here; a
# kernel with 64 KB pages needs MAX_PAGE=65536, or the binary will not load.
ifneq ($(findstring aarch64-,$(CROSS_COMPILE))$(findstring arm-,$(CROSS_COMPILE)),)
MAX_PAGE ?= 16384
endif
ifneq ($(MAX_PAGE),)
FANOUT_LDFLAGS += -Wl,-z,max-page-size=$(MAX_PAGE)
endif

# Every symbol bound as the program starts, not on its first call: a
# forked worker (procs, hybrid) would otherwise look up each one again in
# its first request, in the loader's tables (about 20 page faults each
# time; p50 1.4 ms against 0.9 under --rate in procs, make bench).
FANOUT_LDFLAGS += -Wl,-z,now
ifneq ($(BACKEND),)
FANOUT_CXXFLAGS += -DFANOUT_BACKEND_$(shell echo $(BACKEND) | tr a-z A-Z)
endif
ifneq ($(SANITIZER),)
FANOUT_CXXFLAGS += -fsanitize=$(SANITIZER) -fno-omit-frame-pointer
FANOUT_LDFLAGS  += -fsanitize=$(SANITIZER)
endif
ifeq ($(STATIC),1)
FANOUT_LDFLAGS  += -static -Wl,-Map=$@.map
endif

ifeq ($(V),1)
Q :=
else
Q := @
endif

# The library: everything but the entry points.
LIB_SRC   := $(wildcard src/*.cpp src/models/*.cpp src/jobs/*.cpp platform/*.cpp)
LIB_SRC   := $(filter-out src/main.cpp platform/static.cpp,$(LIB_SRC))
LIB_OBJ   := $(LIB_SRC:%.cpp=$(BUILD)/obj/%.o)
# Static builds: a few C library functions of our own, linked before libc
# (platform/static.cpp says which and why).
STATIC_OBJ := $(if $(filter 1,$(STATIC)),$(BUILD)/obj/platform/static.o)
TEST_SRC  := $(wildcard tests/*.cpp)
TEST_OBJ  := $(TEST_SRC:%.cpp=$(BUILD)/obj/%.o)

BINS := $(BUILD)/fanout $(BUILD)/fanout-bench $(BUILD)/origin $(BUILD)/dnsd $(BUILD)/certgen

all: $(BINS)

# Built for size: a board keeps the binary in flash, and most of fanout
# (options, the summary, the journal, traces, DNS and TLS set-up, the
# models' bookkeeping) runs once a run or once a connection. What runs per
# byte of a response or per line of input is built for speed (HOT_SRC),
# and so is origin, the peer every benchmark measures against. Every
# section apart, so the linker drops what nothing calls. User CXXFLAGS come
# after these, so CXXFLAGS=-O0 still wins.
FANOUT_OPT := -Os
HOT_SRC := src/http.cpp tools/origin.cpp
$(HOT_SRC:%.cpp=$(BUILD)/obj/%.o): FANOUT_OPT := -O2
# The tests' own code starts processes and compares what they print: it is
# built unoptimized (-O2 made it three times slower to compile, in each of
# CI's seven builds, for no run time the suite can see).
$(TEST_OBJ): FANOUT_OPT := -O0
FANOUT_CXXFLAGS += -ffunction-sections -fdata-sections
FANOUT_LDFLAGS  += -Wl,--gc-sections
# Nothing in fanout throws or catches (std::bad_alloc ends the run either
# way) or asks a type its name, so its code has no landing pads and, but
# under a sanitizer, no type_info or unwind tables (UBSan's vptr check
# reads type_info; stack traces unwind). The tests keep all three: doctest
# reports an exception as a failed test.
NO_EH := -fno-exceptions $(if $(SANITIZER),,-fno-rtti -fno-unwind-tables -fno-asynchronous-unwind-tables)
$(LIB_OBJ) $(BUILD)/obj/src/main.o: FANOUT_EH := $(NO_EH)
$(BUILD)/obj/tools/%.o: FANOUT_EH := $(NO_EH)
# fanout itself is linked with GCC's link-time optimization: 301 KB
# stripped without it, 248 KB with it (inlining across files, one copy of
# what several files instantiate; each function keeps its file's -Os or
# -O2). The objects are fat (their machine code too), so the other
# programs and the tests link them as they are. Not under clang (the
# second compiler of make check) or a sanitizer. LTO=0 turns it off.
LTO ?= $(if $(findstring clang,$(CXX))$(SANITIZER),0,1)
ifeq ($(LTO),1)
FANOUT_LTO := -flto=auto -ffat-lto-objects
$(BUILD)/fanout: FANOUT_LDFLAGS += -flto=auto $(NO_EH)
# The rest link the objects' machine code: without -fno-lto the linker
# plugin still reads their LTO sections (and warns, -Wodr, that the tests'
# RTTI vtables differ from fanout's).
$(filter-out $(BUILD)/fanout,$(BINS)) $(BUILD)/fanout-tests: FANOUT_LDFLAGS += -fno-lto
endif
# The linker's padding: without separate-code, the read-only data and the
# code share pages (4 KB a segment boundary); x86's linker packs relative
# relocations (DT_RELR, glibc 2.36: 9 KB of .rela.dyn to a few hundred
# bytes in a position-independent fanout).
FANOUT_LDFLAGS += -Wl,-z,noseparate-code
ifeq ($(CROSS_COMPILE),)
ifneq ($(filter x86_64 i686,$(shell uname -m)),)
FANOUT_LDFLAGS += -Wl,-z,pack-relative-relocs
endif
endif

$(BUILD)/obj/%.o: %.cpp
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CXX     $<")
	$(Q)$(CXX) $(FANOUT_CXXFLAGS) $(FANOUT_LTO) $(FANOUT_OPT) $(FANOUT_EH) $(CXXFLAGS) -c $< -o $@

$(BUILD)/libfanout.a: $(LIB_OBJ)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && $(CROSS_COMPILE)ar rcs $@ $^

$(BUILD)/fanout: $(BUILD)/obj/src/main.o $(STATIC_OBJ) $(BUILD)/libfanout.a
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CXX) $(FANOUT_LDFLAGS) $(LDFLAGS) -o $@ $^ $(FANOUT_LIBS)

$(BUILD)/%: $(BUILD)/obj/tools/%.o $(STATIC_OBJ) $(BUILD)/libfanout.a
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CXX) $(FANOUT_LDFLAGS) $(LDFLAGS) -o $@ $^ $(FANOUT_LIBS)

$(BUILD)/fanout-tests: $(TEST_OBJ) $(STATIC_OBJ) $(BUILD)/libfanout.a
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CXX) $(FANOUT_LDFLAGS) $(LDFLAGS) -o $@ $^ $(FANOUT_LIBS)

# --- set-up ---------------------------------------------------------------
# Debian packages: build, tests (clang: the second compiler; strace for
# tools/strace-check; groff-base: the man page test; libclang-rt-14-dev:
# libFuzzer, which clang only recommends), bench (wrk, curl: the
# peers measured in the same run; nghttpd and h2load for HTTP/2). No openssl: tools/certgen makes the test certificates with mbedTLS.
DEB_PKGS := g++ clang libclang-rt-14-dev make pkg-config libc-ares-dev libmbedtls-dev doctest-dev strace wrk curl groff-base \
            nghttp2-server nghttp2-client nginx-light time tinyproxy microsocks slurm-wlm munge
# ARCH=...: that architecture's compiler, qemu-user, and its c-ares and
# mbedTLS (Debian's multiarch packages).
ifneq ($(ARCH),)
DEB_PKGS += g++-$(TRIPLE) qemu-user libc-ares-dev:$(ARCH) libmbedtls-dev:$(ARCH)
endif
# make footprint ARCH=arm64 measures RSS on an arm64 kernel in a VM
# (tools/footprint-vm fetches the kernel and busybox itself).
ifeq ($(VM)$(ARCH),1arm64)
DEB_PKGS += qemu-system-arm
endif
deps:
	@if [ -n "$(ARCH)" ] && ! dpkg --print-foreign-architectures | grep -qx "$(ARCH)"; then \
	  if [ "$$(id -u)" != 0 ]; then echo "deps: need root for dpkg --add-architecture $(ARCH)" >&2; exit 1; fi; \
	  echo "deps: adding the $(ARCH) architecture"; dpkg --add-architecture $(ARCH); \
	fi
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "deps: need root for apt-get install$$missing" >&2; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

# --- checks -----------------------------------------------------------------
# Build with both compilers, warnings as errors, then run every test.
check: deps
	$(Q)$(MAKE) --no-print-directory all $(BUILD)/fanout-tests
	$(Q)$(MAKE) --no-print-directory BUILD=$(BUILD)/clang CXX=clang++ all $(BUILD)/clang/fanout-tests
	$(Q)tools/run-tests $(BUILD)

# The whole suite on another architecture, under qemu-user (no binfmt
# needed: the tests start every binary through FANOUT_QEMU). The build is
# static: dynamically linked threads hang in qemu-user on this machine.
cross-check:
	$(if $(ARCH),,$(error make cross-check needs ARCH=arm64, armhf or mipsel))
	$(Q)$(MAKE) --no-print-directory ARCH=$(ARCH) deps
	$(Q)$(MAKE) --no-print-directory ARCH=$(ARCH) STATIC=1 all build/$(ARCH)-static/fanout-tests
	$(Q)FANOUT_QEMU=$(QEMU) tools/run-tests build/$(ARCH)-static $(CROSS_TESTS)

# What fanout costs a board, against issue 11's budget (a benchmark: it
# measures): stripped sizes, idle and -c 50 peak RSS, for this machine and,
# with ARCH=..., that architecture's sizes (and for arm64 its RSS, on an
# arm64 kernel under qemu-system). make size: the sizes, and what each part
# adds.
footprint: deps
	$(Q)$(MAKE) --no-print-directory ARCH= BUILD=build all
	$(Q)$(MAKE) --no-print-directory ARCH= BUILD=build/static STATIC=1 build/static/fanout
	$(Q)$(if $(ARCH),$(MAKE) --no-print-directory ARCH=$(ARCH) VM=1 deps && \
	  $(MAKE) --no-print-directory build/$(ARCH)/fanout && \
	  $(MAKE) --no-print-directory STATIC=1 BUILD=build/$(ARCH)-static build/$(ARCH)-static/fanout \
	    build/$(ARCH)-static/origin,true)
	$(Q)tools/footprint build build/static $(if $(ARCH),$(TRIPLE) build/$(ARCH) build/$(ARCH)-static)

size: deps
	$(Q)$(MAKE) --no-print-directory ARCH= BUILD=build all
	$(Q)$(MAKE) --no-print-directory ARCH= BUILD=build/static STATIC=1 build/static/fanout
	$(Q)tools/size build build/static

# Fuzzing: clang's libFuzzer with ASan+UBSan, the library built for
# coverage; each target in tests/fuzz/ runs FUZZ_TIME seconds, seeded from
# ../shared/corpora. A finding is saved as build/fuzz/TARGET-crash-... and
# fails the target.
FUZZ_TIME  ?= 60
FUZZ_BUILD := build/fuzz
FUZZ_SAN   := fuzzer-no-link,address,undefined
CORPORA    ?= ../shared/corpora
# Only what the targets use: clang 14 cannot instrument the coroutine code
# for coverage ("Cannot represent a difference across sections").
FUZZ_LIB   := src/url.cpp src/http.cpp src/hpack.cpp src/h2.cpp src/h2_session.cpp src/input.cpp src/json.cpp src/report.cpp src/core.cpp src/stop.cpp \
              src/tally.cpp src/jobs/download.cpp src/proxy.cpp src/polite.cpp src/hosts.cpp src/request.cpp platform/sys.cpp platform/epoll.cpp platform/poll.cpp
FUZZ_TARGETS := $(basename $(notdir $(wildcard tests/fuzz/*.cpp)))
# -max_len=8192: without it libFuzzer mutates inputs as long as the longest
# seed (WPT's urltestdata.json, 228 KB): the input target then ran 34 inputs
# a second and reached less code than with 8 KB at 1,900 a second.
# The library first, then each target linked and run as its own goal, so
# make -j2 fuzz runs two targets at once (each FUZZ_TIME seconds).
fuzz: deps
	$(Q)$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CXX=clang++ SANITIZER=$(FUZZ_SAN) \
	  $(FUZZ_LIB:%.cpp=$(FUZZ_BUILD)/obj/%.o)
	$(Q)$(MAKE) --no-print-directory $(FUZZ_TARGETS:%=fuzz-run-%)

fuzz-run-%: tests/fuzz/%.cpp
	$(Q)t=$*; echo "  FUZZ    $$t ($(FUZZ_TIME) s)"; \
	clang++ $(FANOUT_CXXFLAGS) -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -O1 $(CXXFLAGS) \
	  $< $(FUZZ_LIB:%.cpp=$(FUZZ_BUILD)/obj/%.o) $(FANOUT_LIBS) -o $(FUZZ_BUILD)/fuzz-$$t || exit 1; \
	mkdir -p $(FUZZ_BUILD)/corpus-$$t; \
	case $$t in response) seeds="$(CORPORA)/llhttp-response $(CORPORA)/curl-tests";; \
	  url|input) seeds="$(CORPORA)/wpt-url";; *) seeds="";; esac; \
	for d in $$seeds; do [ -d $$d ] || seeds=""; done; \
	if ! $(FUZZ_BUILD)/fuzz-$$t -max_total_time=$(FUZZ_TIME) -max_len=8192 -artifact_prefix=$(FUZZ_BUILD)/$$t- \
	    $(FUZZ_BUILD)/corpus-$$t $$seeds > $(FUZZ_BUILD)/$$t.log 2>&1; then \
	  tail -n 40 $(FUZZ_BUILD)/$$t.log; echo "fuzz: $$t failed; the input is $(FUZZ_BUILD)/$$t-crash-*"; exit 1; \
	fi; \
	echo "  FUZZ    $$t: $$(grep -E '^Done [0-9]+ runs' $(FUZZ_BUILD)/$$t.log)"

# Benchmarks: targets with numbers live here, never in the unit tests.
bench: deps
	$(Q)$(MAKE) --no-print-directory all $(BUILD)/connect-floor
	$(Q)tools/bench $(BUILD)

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tools/demo $(BUILD)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(BUILD)/fanout $(DESTDIR)$(PREFIX)/bin/fanout
	install -m 755 $(BUILD)/fanout-bench $(DESTDIR)$(PREFIX)/bin/fanout-bench  # fanout bench
	install -m 755 $(BUILD)/origin $(DESTDIR)$(PREFIX)/bin/fanout-origin  # for fanout bench
	install -d $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 644 tools/fanout.1 $(DESTDIR)$(PREFIX)/share/man/man1/fanout.1

clean:
	rm -rf $(BUILD)

.PHONY: all bench check cross-check demo deps footprint fuzz install size clean
.SECONDARY:
-include $(wildcard $(BUILD)/obj/*/*.d $(BUILD)/obj/*/*/*.d)
