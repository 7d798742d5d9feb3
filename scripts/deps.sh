#!/usr/bin/env bash
# Install what orderd needs on Debian 12, for one purpose at a time. Idempotent and fast when everything is
# there: it checks first (dpkg -s / command -v) and only then runs `apt-get update` +
# `apt-get install -y --no-install-recommends` for what is missing.
#
#   scripts/deps.sh [run|test|bench|package]   what that needs (default: test); each includes the one before
#   scripts/deps.sh --check [PURPOSE]          only report what is missing (exit 1 if anything is)
#
#   run      build and serve (`make run`): libfcgi, SQLite, nginx, pkg-config, curl, python3 (the socket holder)
#   test     `make test`: + spawn-fcgi, cgi-fcgi, sqlite3, systemd-analyze, PostgreSQL, Chromium, jsonschema,
#            logrotate, promtool, dpkg-dev and lintian (the package test)
#   bench    `make bench`: + wrk, gcc and make (the C libfcgi responder it measures beside orderd), and the other
#            peers it measures in the same run: golang-go (bench/go: net/http/fcgi, cgo against libsqlite3; the
#            executor's Go counterpart), php8.2-fpm and php8.2-sqlite3 (bench/php: PHP-FPM with pdo_sqlite)
#   package  `make deb`: dpkg-dev, lintian
#
# Runs apt-get as root, or through sudo when not root and sudo exists.
# Swift is not a Debian package: it must be at /opt/swift/usr/bin or on PATH (this script says so
# and exits 1 when it is missing). Set ORDERD_DEPS_NO_SWIFT=1 to skip that check (C-only work).
set -euo pipefail

CHECK_ONLY=0
PURPOSE=test
for arg in "$@"; do
    case "$arg" in
        --check) CHECK_ONLY=1 ;;
        run|test|bench|package) PURPOSE=$arg ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "deps: unknown argument $arg (see --help)" >&2; exit 2 ;;
    esac
done

pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'; }

missing=()
need_pkg() { pkg_installed "$1" || missing+=("$1"); }          # a package that must be installed
need_cmd() { command -v "$1" >/dev/null 2>&1 || missing+=("$2"); }   # a command, from package $2

# run
need_pkg libfcgi-dev
# any nginx flavour will do (nginx-light, nginx, nginx-core, nginx-full, nginx-extras)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
need_pkg libsqlite3-dev
need_cmd pkg-config pkg-config
need_cmd curl curl
need_cmd python3 python3

if [ "$PURPOSE" = package ] || [ "$PURPOSE" = test ] || [ "$PURPOSE" = bench ]; then
    need_cmd dpkg-deb dpkg
    need_cmd dpkg-shlibdeps dpkg-dev
    need_cmd lintian lintian
fi
if [ "$PURPOSE" = test ] || [ "$PURPOSE" = bench ]; then
    need_cmd cgi-fcgi libfcgi-bin
    need_cmd spawn-fcgi spawn-fcgi
    need_cmd sqlite3 sqlite3
    need_cmd systemd-analyze systemd
    # the OpenAPI conformance test validates real answers with jsonschema (scripts/openapi-check.py)
    need_pkg python3-jsonschema
    need_pkg python3-yaml
    # the status page test loads /status?html in headless Chromium (and docs/status-page.png is taken with it)
    need_cmd chromium chromium
    # the PostgreSQL store's tests and benchmark start a throwaway server (scripts/with-postgres.sh)
    ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
    need_cmd psql postgresql-client
    need_cmd openssl openssl
    # the audit file's logrotate config is checked with `logrotate --debug` (AuditRotationTests)
    need_cmd logrotate logrotate
    # deploy/prometheus/orderd-rules.yml is checked and unit-tested with promtool (DeployFilesTests)
    need_cmd promtool prometheus
fi
if [ "$PURPOSE" = bench ]; then
    need_cmd wrk wrk
    need_cmd gcc gcc
    need_cmd make make
    # the peers beside orderd (bench/go, bench/php): Debian's Go (standard library only, cgo for SQLite) and
    # PHP-FPM with pdo_sqlite; run.sh skips a peer whose toolchain is missing, with the reason in the report
    command -v go >/dev/null 2>&1 || [ -x /usr/lib/go/bin/go ] || missing+=(golang-go)
    need_cmd php-fpm8.2 php8.2-fpm
    need_pkg php8.2-sqlite3
fi

if [ ${#missing[@]} -gt 0 ]; then
    echo "deps: missing: ${missing[*]}"
    if [ "$CHECK_ONLY" = 1 ]; then exit 1; fi
    if [ "$(id -u)" -eq 0 ]; then SUDO=()
    elif command -v sudo >/dev/null 2>&1; then SUDO=(sudo)
    else echo "deps: not root and no sudo: install as root: apt-get install ${missing[*]}" >&2; exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=300 update -qq
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}"
else
    echo "deps: system packages for '$PURPOSE' present"
fi

if [ "${ORDERD_DEPS_NO_SWIFT:-0}" != 1 ]; then
    if [ -x /opt/swift/usr/bin/swift ]; then
        echo "deps: swift at /opt/swift/usr/bin/swift"
    elif command -v swift >/dev/null 2>&1; then
        echo "deps: swift at $(command -v swift)"
    else
        echo "deps: MISSING: Swift toolchain (expected /opt/swift/usr/bin/swift or swift on PATH)." >&2
        echo "deps: Swift is not a Debian package; install the toolchain under /opt/swift, then rerun." >&2
        exit 1
    fi
fi
