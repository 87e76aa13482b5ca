# ihttpd - plain make.  `make run` and `make check` are all a fresh Debian 12
# machine needs (as root they install the missing packages first).
#
# Knobs: CC CFLAGS LDFLAGS PREFIX DESTDIR, V=1 (show commands), WERROR=1
# (warnings are errors; CI), STATIC=0 (dynamic PIE build instead of the
# default static one: see README, "Start-up cost").

VERSION    = 0.1.0
PREFIX    ?= /usr/local
DESTDIR   ?=
SBINDIR    = $(PREFIX)/sbin
MANDIR     = $(PREFIX)/share/man
SYSCONFDIR = $(PREFIX)/etc/ihttpd
BUILD     ?= build
STATIC    ?= 1
PORT      ?= 8080

CC        ?= cc
CFLAGS    ?= -O2 -g
WARN       = -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes \
             -Wmissing-prototypes -Wwrite-strings -Wvla -Wcast-qual \
             -Wpointer-arith
ifeq ($(WERROR),1)
WARN      += -Werror
endif
HARDEN     = -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fno-plt
ALL_CPPFLAGS = -D_GNU_SOURCE -Isrc -I$(BUILD)/gen \
             -DIHTTPD_SYSCONFDIR='"$(SYSCONFDIR)"' $(CPPFLAGS)
ifeq ($(STATIC),1)
# Static and not PIE: no ld.so and no relocation work at exec, which inetd
# mode pays per connection (static-pie costs +245k instructions once
# libcrypto is in; see README).
PIEFLAGS   = -fno-pie
LINKMODE   = -static -no-pie -Wl,-z,relro,-z,now
else
PIEFLAGS   = -fPIE
LINKMODE   = -pie -Wl,-z,relro,-z,now
endif
ALL_CFLAGS = $(CFLAGS) $(WARN) $(HARDEN) $(PIEFLAGS) -MMD -MP
LIBS       = -lmagic -lz -llzma -lbz2 -lhiredis -lssl -lcrypto -lcrypt -lm

ifeq ($(V),1)
Q =
else
Q = @
endif

SRCS      := $(wildcard src/*.c) $(wildcard handlers/*.c)
OBJS      := $(SRCS:%.c=$(BUILD)/%.o)
LIB_OBJS  := $(filter-out $(BUILD)/src/main.o,$(OBJS))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

DEBS = gcc make libc6-dev pkg-config libmagic-dev libhiredis-dev libssl-dev zlib1g-dev \
       liblzma-dev libbz2-dev libcrypt-dev openssl ucspi-tcp curl python3 bats bats-assert \
       bats-support wget apache2-utils valgrind strace socat goaccess libcgi-pm-perl git \
       redis-server haproxy

FUZZ_DEBS = clang libclang-rt-14-dev

.PHONY: all deps run check test unit asan fuzz bench profile tlscheck install clean

all: $(BUILD)/ihttpd

$(BUILD)/ihttpd: $(OBJS)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_CFLAGS) $(LINKMODE) $(LDFLAGS) -o $@ $(OBJS) $(LIBS)

# The built-in type table, from conf/mime.types (see src/mimegen.awk).
$(BUILD)/gen/mime_builtin.h: conf/mime.types src/mimegen.awk
	@mkdir -p $(dir $@)
	@echo "  GEN     $@"
	$(Q)awk -v pass=1 -f src/mimegen.awk conf/mime.types | LC_ALL=C sort | \
	    awk -v pass=2 -f src/mimegen.awk >$@.tmp && mv $@.tmp $@

$(BUILD)/src/mime.o: $(BUILD)/gen/mime_builtin.h

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJS)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -Itests/unit $(LINKMODE) \
	    $(LDFLAGS) -o $@ $< $(LIB_OBJS) $(LIBS)

unit: $(UNIT_BINS)

# Install whatever Debian packages are missing (as root), or say how.
define install_debs
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
	    grep -q 'ok installed' || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends $$missing \
	    </dev/null >/dev/null || exit 1; \
	else \
	  echo "missing packages; as root run:"; \
	  echo "  apt-get update && apt-get install -y$$missing"; exit 1; \
	fi
endef

deps:
	$(call install_debs,$(DEBS))

# The demo on 127.0.0.1:$(PORT), and over TLS on 127.0.0.1:$(TLS_PORT),
# served by the standalone prefork server.  The TLS certificate is a
# self-signed one made on the first run in $(DEMO_TLS) (ignored by git).
# As root its workers run as the system user ihttpd (made if missing),
# which reads the demo through the docroot opened before the drop and
# keeps its state in a datadir of its own.
RUN_DATADIR = /var/lib/ihttpd-demo
DEMO_TLS    = var/demo-tls
TLS_PORT   ?= 8443
run: deps all
	@if [ "$$(id -u)" = 0 ]; then \
	    id ihttpd >/dev/null 2>&1 || useradd --system --no-create-home \
	        --home-dir /nonexistent --shell /usr/sbin/nologin ihttpd; \
	    install -d -m 700 -o ihttpd -g ihttpd $(RUN_DATADIR); \
	fi
	@if [ ! -s $(DEMO_TLS)/cert.pem ] || [ ! -s $(DEMO_TLS)/key.pem ]; then \
	    mkdir -p $(DEMO_TLS) && chmod 700 $(DEMO_TLS) && \
	    openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj /CN=localhost \
	        -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
	        -keyout $(DEMO_TLS)/key.pem -out $(DEMO_TLS)/cert.pem 2>/dev/null && \
	    chmod 600 $(DEMO_TLS)/key.pem && \
	    echo "made a self-signed certificate: $(DEMO_TLS)/cert.pem"; \
	fi
	@echo "ihttpd demo on http://127.0.0.1:$(PORT)/ and https://127.0.0.1:$(TLS_PORT)/ (Ctrl-C stops it)"
	$(BUILD)/ihttpd -c conf/ihttpd.conf --standalone on \
	    --port 127.0.0.1:$(PORT) --port 127.0.0.1:$(TLS_PORT)/tls \
	    --tls_cert $(DEMO_TLS)/cert.pem --tls_key $(DEMO_TLS)/key.pem \
	    $$([ "$$(id -u)" = 0 ] && echo --user ihttpd --datadir $(RUN_DATADIR))

check: deps test

test: all unit
	@IHTTPD=$(BUILD)/ihttpd UNIT_DIR=$(BUILD)/tests sh tests/run.sh

asan:
	$(MAKE) --no-print-directory BUILD=build-asan STATIC=0 \
	    CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all" \
	    LDFLAGS="-fsanitize=address,undefined" test

# libFuzzer drivers, FUZZ_SECONDS each (default 60).
fuzz:
	$(call install_debs,$(FUZZ_DEBS))
	sh tests/fuzz/run.sh

# Compare with peers in one run and print ratios (BENCH_QUICK=1: smoke).
bench: all
	sh tests/bench/run.sh

# Where the instructions go: callgrind's top functions of one pipe-mode GET
# and of a kept-alive request (build/bench/profile.md).
profile: all
	$(call install_debs,valgrind)
	sh tests/bench/profile.sh

# testssl.sh against a standalone TLS port (not part of check: minutes).
tlscheck: all
	$(call install_debs,testssl.sh)
	sh tests/tlscheck.sh

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(SYSCONFDIR)
	install -m 755 $(BUILD)/ihttpd $(DESTDIR)$(SBINDIR)/ihttpd
	install -m 644 src/ihttpd.8 $(DESTDIR)$(MANDIR)/man8/ihttpd.8
	install -m 644 src/ihttpd.conf.5 $(DESTDIR)$(MANDIR)/man5/ihttpd.conf.5
	install -m 644 conf/mime.types $(DESTDIR)$(SYSCONFDIR)/mime.types
	@if [ ! -e $(DESTDIR)$(SYSCONFDIR)/ihttpd.conf ]; then \
	  printf '%s\n' '# ihttpd configuration: see ihttpd.conf(5).' \
	    'docroot     /var/www/html' \
	    'mimetypes   $(SYSCONFDIR)/mime.types' \
	    'access_log  syslog' 'error_log   syslog' \
	    > $(DESTDIR)$(SYSCONFDIR)/ihttpd.conf; \
	  echo "  wrote $(DESTDIR)$(SYSCONFDIR)/ihttpd.conf"; fi

clean:
	rm -rf build build-asan build-fuzz

-include $(OBJS:.o=.d)
