# orderd: the one entry point.
#
#   make run        deps, release build, orderd behind nginx on http://127.0.0.1:$(PORT) (scripts/run.sh)
#   make test       deps, debug build (warnings are errors) incl. tests, swift test beside a throwaway PostgreSQL
#   make bench      deps, release build, bench/run.sh (table in bench/results/<date>.md)
#   make soak       deps, debug build, only SoakTests for DURATION (default 10m; 60 s of it run in make test),
#                   audit report printed and written to bench/results/<date>.soak.md
#   make install    a self-contained stripped binary, example INI (kept if present), systemd units, nginx site,
#                   logrotate file, an empty keys file
#   make deb        deps, release build, .build/deb/orderd_<version>_amd64.deb (scripts/build-deb.sh), lintian
#   make uninstall  the reverse; a config file you changed is kept
#   make check-units  systemd-analyze verify + security score of systemd/*
#   make clean      run dirs, bench binaries, swift build products
#
# Variables: PORT RUN_DIR CONFIG KEEPALIVE (make run), DURATION THREADS (make bench), DURATION (make soak: 10m, 90s, 1h),
# PREFIX DESTDIR UNITDIR (make install), SWIFT_SCRATCH (a --scratch-path for every swift command).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

ifneq ($(wildcard /opt/swift/usr/bin/swift),)
export PATH := /opt/swift/usr/bin:$(PATH)
endif
SWIFT ?= swift
SWIFT_SCRATCH ?=
SCRATCH_FLAG := $(if $(SWIFT_SCRATCH),--scratch-path $(SWIFT_SCRATCH))
# `make test` builds with warnings as errors; the same flags go to `swift test --skip-build` and
# `--show-bin-path`, so nothing is rebuilt and ORDERD_BIN names the binary that was just built.
# --static-swift-stdlib: the Swift runtime and Foundation linked into orderd, so the binary runs where the
# toolchain is not (ldd names nothing under /opt/swift): every release build (run, bench, install, deb). The debug
# orderd gets the same from Package.swift's linker settings (the test bundle cannot take the flag: swift-testing
# has no static library), so PackageTests packages the binary `make test` built.
TEST_FLAGS := $(SCRATCH_FLAG) -Xswiftc -warnings-as-errors
# A target that imports one it does not declare (a layer reaching up, see Package.swift) fails the build.
LAYER_CHECK := --explicit-target-dependency-import-check error
RELEASE_FLAGS := $(SCRATCH_FLAG) -c release --static-swift-stdlib

PORT ?= 8080
RUN_DIR ?= $(CURDIR)/.run
CONFIG ?=
KEEPALIVE ?= on

PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
# systemd's search path includes /usr/local/lib/systemd/system (locally installed packages) and
# /usr/lib/systemd/system (distribution packages); any other PREFIX needs UNITDIR=/etc/systemd/system.
UNITDIR ?= $(PREFIX)/lib/systemd/system
CONFDIR := /etc/orderd
NGINX_SITES := /etc/nginx/sites-available

.PHONY: help deps deps-run deps-bench deps-package deb build build-debug run test bench soak install uninstall check-units clean

help:
	@sed -n '3,/^$$/p' Makefile | sed 's/^# \{0,1\}//'

# What each purpose needs (scripts/deps.sh --help): `make run` installs only what serving needs.
deps:
	@scripts/deps.sh test

deps-run:
	@scripts/deps.sh run

deps-bench:
	@scripts/deps.sh bench

deps-package:
	@scripts/deps.sh package

build:
	$(SWIFT) build $(RELEASE_FLAGS)

build-debug:
	$(SWIFT) build $(TEST_FLAGS)

run: deps-run build
	ORDERD_BIN="$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/orderd" \
	RUN_DIR='$(RUN_DIR)' PORT='$(PORT)' CONFIG='$(CONFIG)' KEEPALIVE='$(KEEPALIVE)' \
	scripts/run.sh

test: deps
	$(SWIFT) build --build-tests $(TEST_FLAGS) $(LAYER_CHECK)
	ORDERD_BIN="$$($(SWIFT) build $(TEST_FLAGS) --show-bin-path)/orderd"; export ORDERD_BIN; \
	export ORDERD_STATIC_BIN="$$ORDERD_BIN"; \
	export ORDERD_REPO='$(CURDIR)'; \
	scripts/with-postgres.sh bash -c '$(SWIFT) test --skip-build $(TEST_FLAGS) --skip IntegrationTests; unit=$$?; \
	  $(SWIFT) test --skip-build $(TEST_FLAGS) --filter IntegrationTests; exit $$(( unit || $$? ))'

# `make test` runs the unit tests and the integration tests one after the other, each in parallel within: the
# executor's tests need Swift's cooperative pool (its workers run there), and the integration tests hold that
# pool's threads (two on two cores) while they wait on sockets and child processes, up to a minute for the soak.

# Builds only orderd here: bench/run.sh builds executor-bench itself (SCENARIOS=...executor), so a broken or
# missing executor-bench costs the executor section alone, not the whole bench.
bench: deps-bench
	$(SWIFT) build $(RELEASE_FLAGS) --product orderd
	ORDERD_BIN="$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/orderd" \
	SWIFT='$(SWIFT)' SWIFT_SCRATCH='$(SWIFT_SCRATCH)' bench/run.sh

# The soak is one Swift Testing integration test (Tests/IntegrationTests/SoakTests.swift); its length comes
# from ORDERD_SOAK_SECONDS (DURATION: a number of seconds, or with s, m or h).
SOAK_DURATION = $(or $(DURATION),10m)
soak: deps
	$(SWIFT) build --build-tests $(TEST_FLAGS)
	@SOAK_DURATION_V='$(SOAK_DURATION)'; case "$$SOAK_DURATION_V" in \
	  *h) seconds=$$(( $${SOAK_DURATION_V%h} * 3600 ));; \
	  *m) seconds=$$(( $${SOAK_DURATION_V%m} * 60 ));; \
	  *s) seconds=$${SOAK_DURATION_V%s};; \
	  *) seconds=$$SOAK_DURATION_V;; \
	esac; \
	mkdir -p bench/results; report="bench/results/$$(date +%F).soak.md"; \
	echo "soak: $$seconds s, report in $$report"; \
	ORDERD_BIN="$$($(SWIFT) build $(TEST_FLAGS) --show-bin-path)/orderd" ORDERD_REPO='$(CURDIR)' \
	ORDERD_SOAK_SECONDS="$$seconds" ORDERD_SOAK_REPORT="$(CURDIR)/$$report" \
	$(SWIFT) test --skip-build $(TEST_FLAGS) --filter SoakTests

check-units:
	@bin="$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path 2>/dev/null)/orderd"; \
	if [ -x "$$bin" ]; then export ORDERD_BIN="$$bin"; fi; \
	scripts/check-units.sh

install:
	$(SWIFT) build $(RELEASE_FLAGS) --product orderd
	@bin="$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/orderd"; \
	install -d -m 0755 '$(DESTDIR)$(BINDIR)'; \
	objcopy --strip-all "$$bin" '$(DESTDIR)$(BINDIR)/orderd'; chmod 0755 '$(DESTDIR)$(BINDIR)/orderd'; \
	echo "installed $(DESTDIR)$(BINDIR)/orderd ($$(du -h '$(DESTDIR)$(BINDIR)/orderd' | cut -f1), stripped, build id kept)"
	@install -d -m 0755 '$(DESTDIR)$(UNITDIR)'
	@sed 's|/usr/local/bin/orderd|$(BINDIR)/orderd|g' systemd/orderd.service > '$(DESTDIR)$(UNITDIR)/orderd.service.tmp'
	@chmod 0644 '$(DESTDIR)$(UNITDIR)/orderd.service.tmp'
	@mv -f '$(DESTDIR)$(UNITDIR)/orderd.service.tmp' '$(DESTDIR)$(UNITDIR)/orderd.service'
	@install -m 0644 systemd/orderd.socket '$(DESTDIR)$(UNITDIR)/orderd.socket'
	@echo "installed $(DESTDIR)$(UNITDIR)/orderd.service and orderd.socket (ExecStart=$(BINDIR)/orderd)"
	@case '$(UNITDIR)' in /usr/local/lib/systemd/system|/usr/lib/systemd/system|/lib/systemd/system|/etc/systemd/system) ;; \
	  *) echo "note: systemd does not look in $(UNITDIR): use UNITDIR=/etc/systemd/system" ;; esac
	@if [ -e '$(DESTDIR)$(CONFDIR)/orderd.ini' ]; then \
	  echo "kept existing $(DESTDIR)$(CONFDIR)/orderd.ini (the shipped example is config/orderd.ini)"; \
	else \
	  install -D -m 0644 config/orderd.ini '$(DESTDIR)$(CONFDIR)/orderd.ini'; \
	  echo "installed $(DESTDIR)$(CONFDIR)/orderd.ini"; \
	fi
	@if [ -e '$(DESTDIR)$(CONFDIR)/api-keys' ]; then \
	  echo "kept existing $(DESTDIR)$(CONFDIR)/api-keys"; \
	else \
	  install -D -m 0600 /dev/null '$(DESTDIR)$(CONFDIR)/api-keys'; \
	  echo "# API keys: orderd keys new --scopes orders:write --note NOTE --append-to $(CONFDIR)/api-keys" > '$(DESTDIR)$(CONFDIR)/api-keys'; \
	  echo "installed an empty $(DESTDIR)$(CONFDIR)/api-keys (mode 0600): add a key, or every request is refused"; \
	fi
	@install -D -m 0644 deploy/logrotate/orderd '$(DESTDIR)/etc/logrotate.d/orderd'
	@echo "installed $(DESTDIR)/etc/logrotate.d/orderd (rotates the audit file weekly; orderd reopens it on reload)"
	@if [ -e '$(DESTDIR)$(NGINX_SITES)/orderd.conf' ]; then \
	  echo "kept existing $(DESTDIR)$(NGINX_SITES)/orderd.conf (the shipped one is nginx/orderd.conf)"; \
	else \
	  install -D -m 0644 nginx/orderd.conf '$(DESTDIR)$(NGINX_SITES)/orderd.conf'; \
	  echo "installed $(DESTDIR)$(NGINX_SITES)/orderd.conf"; \
	fi
	@if [ -z '$(DESTDIR)' ]; then \
	  echo "next: $(BINDIR)/orderd keys new --scopes orders:write,orders:read --note shop --append-to $(CONFDIR)/api-keys"; \
	  echo "      systemctl daemon-reload && systemctl enable --now orderd.socket orderd.service"; \
	  echo "      ln -s ../sites-available/orderd.conf /etc/nginx/sites-enabled/orderd.conf && nginx -t && systemctl reload nginx"; \
	fi

deb: deps-package
	$(SWIFT) build $(RELEASE_FLAGS) --product orderd
	scripts/build-deb.sh --binary "$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/orderd" --lintian

uninstall:
	rm -f '$(DESTDIR)$(BINDIR)/orderd' '$(DESTDIR)$(UNITDIR)/orderd.service' '$(DESTDIR)$(UNITDIR)/orderd.socket' \
	  '$(DESTDIR)/etc/logrotate.d/orderd'
	@for pair in '$(DESTDIR)$(CONFDIR)/orderd.ini:config/orderd.ini' '$(DESTDIR)$(NGINX_SITES)/orderd.conf:nginx/orderd.conf'; do \
	  f=$${pair%%:*}; src=$${pair#*:}; \
	  if [ ! -e "$$f" ]; then continue; fi; \
	  if cmp -s "$$f" "$$src"; then rm -f "$$f"; echo "removed $$f"; else echo "kept $$f (changed since install)"; fi; \
	done
	@rmdir '$(DESTDIR)$(CONFDIR)' 2>/dev/null || true
	@echo "orderd's data in /var/lib/orderd (StateDirectory) and the keys in $(CONFDIR)/api-keys are left alone"

clean:
	rm -rf '$(RUN_DIR)' bench/bin
	$(SWIFT) package clean $(SCRATCH_FLAG)
