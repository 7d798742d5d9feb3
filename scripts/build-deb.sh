#!/usr/bin/env bash
# Build orderd_<version>_amd64.deb from a built binary, with dpkg-deb (no debhelper: the package is one
# self-contained binary, its units, its config files and its docs).
#
#   scripts/build-deb.sh --binary PATH [--out DIR] [--lintian]
#
#   --binary PATH   the orderd to package: built with --static-swift-stdlib (`make deb` builds it), so that
#                   nothing under /opt/swift is needed at run time; refused if ldd names /opt/swift.
#                   It is stripped into the package; its debug symbols go to DIR/orderd_<version>.debug, linked
#                   by build id (`objcopy --add-gnu-debuglink`), for gdb and coredumpctl.
#   --out DIR       where the .deb goes (default .build/deb)
#   --lintian       run lintian on the result; exit non-zero on any error (warnings are printed)
#
# Prints the path of the .deb on stdout. The version is orderd's (Sources/OrderdSupport/OrderdVersion.swift),
# with +git<commits>.<sha> when the commit is not a release tag (v<version>).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BINARY="" OUT="$REPO/.build/deb" LINTIAN=0
while [ $# -gt 0 ]; do
    case "$1" in
        --binary) BINARY=${2:?}; shift 2 ;;
        --out) OUT=${2:?}; shift 2 ;;
        --lintian) LINTIAN=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "build-deb: unknown argument $1" >&2; exit 2 ;;
    esac
done
[ -x "$BINARY" ] || { echo "build-deb: --binary must name an executable orderd" >&2; exit 2; }
if ldd "$BINARY" | grep -q '/opt/swift'; then
    echo "build-deb: $BINARY links libraries under /opt/swift; build it with --static-swift-stdlib:" >&2
    ldd "$BINARY" | grep '/opt/swift' >&2
    exit 1
fi

base=$(sed -n 's/.*static let current = "\(.*\)".*/\1/p' "$REPO/Sources/OrderdSupport/OrderdVersion.swift")
[ -n "$base" ] || { echo "build-deb: no version in OrderdVersion.swift" >&2; exit 1; }
version=$base
if git -C "$REPO" rev-parse --git-dir >/dev/null 2>&1; then
    if ! git -C "$REPO" describe --tags --exact-match "v$base" >/dev/null 2>&1; then
        count=$(git -C "$REPO" rev-list --count HEAD)
        version="$base+git$count.$(git -C "$REPO" rev-parse --short=8 HEAD)"
    fi
fi
name="orderd_${version}_amd64"
stage="$OUT/$name"
rm -rf "$stage"
mkdir -p "$stage/DEBIAN" "$stage/usr/bin" "$stage/lib/systemd/system" "$stage/etc/orderd" \
    "$stage/etc/nginx/sites-available" "$stage/etc/logrotate.d" "$stage/usr/share/doc/orderd" \
    "$stage/usr/share/orderd" "$stage/usr/share/lintian/overrides"

# The binary: stripped, its symbols kept beside the package and linked by build id.
debug="$OUT/orderd_${version}.debug"
objcopy --only-keep-debug "$BINARY" "$debug"
objcopy --strip-all --add-gnu-debuglink="$debug" "$BINARY" "$stage/usr/bin/orderd"
chmod 0755 "$stage/usr/bin/orderd"

# Units: the shipped ones, with the binary where the package puts it.
for unit in orderd.service orderd.socket; do
    sed 's|/usr/local/bin/orderd|/usr/bin/orderd|g' "$REPO/systemd/$unit" > "$stage/lib/systemd/system/$unit"
    chmod 0644 "$stage/lib/systemd/system/$unit"
done
install -m 0644 "$REPO/config/orderd.ini" "$stage/etc/orderd/orderd.ini"
install -m 0644 "$REPO/nginx/orderd.conf" "$stage/etc/nginx/sites-available/orderd.conf"
install -m 0644 "$REPO/deploy/logrotate/orderd" "$stage/etc/logrotate.d/orderd"
install -m 0644 "$REPO/openapi.yaml" "$stage/usr/share/orderd/openapi.yaml"
install -m 0644 "$REPO/deploy/prometheus/orderd-rules.yml" "$stage/usr/share/orderd/orderd-rules.yml"
install -m 0644 "$REPO/deploy/grafana/orderd.json" "$stage/usr/share/orderd/grafana-orderd.json"
install -m 0644 "$REPO/README.md" "$stage/usr/share/doc/orderd/README.md"
# The Swift toolchain's static Foundation carries its own zlib (1.3.x): linking the runtime in is the point of
# this package (no toolchain on the host), so that copy comes with it; the system's libz is linked as well.
install -m 0644 "$REPO/packaging/debian/lintian-overrides" "$stage/usr/share/lintian/overrides/orderd"
{
    echo "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"
    echo "Upstream-Name: orderd"
    echo ""
    echo "Files: *"
    echo "Copyright: 2026 the orderd authors"
    echo "License: Apache-2.0"
    echo " On Debian systems, the full text of the Apache License 2.0 is in"
    echo " /usr/share/common-licenses/Apache-2.0."
} > "$stage/usr/share/doc/orderd/copyright"
{
    echo "orderd ($version) unstable; urgency=medium"
    echo ""
    echo "  * Built from the orderd repository; see CHANGELOG.md upstream."
    echo ""
    echo " -- orderd maintainers <orderd@example.org>  $(date -R -d "@$(git -C "$REPO" log -1 --format=%ct 2>/dev/null || date +%s)")"
} | gzip -9n > "$stage/usr/share/doc/orderd/changelog.Debian.gz"
install -m 0644 "$REPO/CHANGELOG.md" "$stage/usr/share/doc/orderd/changelog"
gzip -9n "$stage/usr/share/doc/orderd/changelog"

# Dependencies from what the binary links (libc, libfcgi, libsqlite3, ...).
depends=$(cd "$stage" && mkdir -p debian && printf 'Source: orderd\n\nPackage: orderd\nArchitecture: amd64\n' > debian/control \
    && dpkg-shlibdeps -O -e usr/bin/orderd 2>/dev/null | sed -n 's/^shlibs:Depends=//p'; rm -rf debian)
[ -n "$depends" ] || { echo "build-deb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat > "$stage/DEBIAN/control" <<CONTROL
Package: orderd
Version: $version
Architecture: amd64
Maintainer: orderd maintainers <orderd@example.org>
Installed-Size: $size
Depends: $depends
Recommends: nginx | nginx-light | nginx-core
Suggests: logrotate
Section: net
Priority: optional
Homepage: https://example.org/orderd
Description: order backend: a FastCGI responder behind nginx
 orderd stores each order durably (SQLite or PostgreSQL) before it answers,
 then hands the follow-up work (an SMS to the buyer, a webhook, an audit
 record) to a bounded executor with a durable outbox. It runs under systemd
 with socket activation behind nginx, configured by one INI file.
CONTROL
cat > "$stage/DEBIAN/conffiles" <<CONFFILES
/etc/orderd/orderd.ini
/etc/nginx/sites-available/orderd.conf
/etc/logrotate.d/orderd
CONFFILES
install -m 0755 "$REPO/packaging/debian/postinst" "$stage/DEBIAN/postinst"
install -m 0755 "$REPO/packaging/debian/postrm" "$stage/DEBIAN/postrm"

deb="$OUT/$name.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
if [ "$LINTIAN" = 1 ]; then
    report=$(lintian --tag-display-limit 0 "$deb" 2>&1 | grep -v '^running with root privileges' || true)
    [ -z "$report" ] || printf '%s\n' "$report" >&2
    if printf '%s\n' "$report" | grep -q '^E: '; then
        echo "build-deb: lintian reports errors" >&2
        exit 1
    fi
    echo "build-deb: lintian: $(printf '%s\n' "$report" | grep -c '^E: ' || true) errors, $(printf '%s\n' "$report" | grep -c '^W: ' || true) warnings" >&2
fi
echo "$deb"
