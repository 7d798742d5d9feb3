#!/usr/bin/env bash
# Runs a command beside a throwaway PostgreSQL server, for the tests and the benchmark:
#
#   scripts/with-postgres.sh COMMAND [ARG...]
#
# initdb in a temporary directory, as the user `postgres` when run as root (PostgreSQL refuses to run as root),
# listening on 127.0.0.1 at a free port and on a unix socket in that directory; scram-sha-256 for TCP; a role
# `orderd` (CREATEDB) with a random password kept in a file. TLS is on (ssl=on) with a certificate made with openssl
# for the run, and plain TCP still works: pg_hba.conf has `host` rules only (they match TLS and plain connections
# alike, where `hostssl` would refuse plain ones), so the tests choose per connection with sslmode. COMMAND gets:
#   ORDERD_TEST_PG_URL            postgres://orderd@127.0.0.1:PORT/orderd?sslmode=disable
#   ORDERD_TEST_PG_PASSWORD_FILE  the password, for store.password_file
#   ORDERD_TEST_PG_PSQL           psql, to create a database per test
#   ORDERD_TEST_PG_CA             the CA (PEM) that signed the server certificate, for sslrootcert=
#   ORDERD_TEST_PG_WRONG_CA       another CA, unrelated to the server certificate
#   ORDERD_TEST_PG_OTHER_HOST     127.0.0.2: the server listens there too, but its certificate names only
#                                 localhost and 127.0.0.1 (for a host name mismatch)
# The server is stopped and its directory removed when COMMAND ends, however it ends.
# Where PostgreSQL is not installed (scripts/deps.sh installs it), COMMAND runs with ORDERD_TEST_PG_SKIP set to
# the reason instead, and the PostgreSQL tests print it and skip.
set -euo pipefail

[ $# -gt 0 ] || { echo "usage: $0 COMMAND [ARG...]" >&2; exit 2; }

initdb=$(ls -1 /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$initdb" ]; then
    export ORDERD_TEST_PG_SKIP="PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb; scripts/deps.sh installs the postgresql package)"
    echo "with-postgres: $ORDERD_TEST_PG_SKIP" >&2
    exec "$@"
fi
bindir=$(dirname "$initdb")

as_pg=()
if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || { echo "with-postgres: running as root and there is no user postgres to run PostgreSQL as" >&2; exit 1; }
    as_pg=(runuser -u postgres --)
fi

dir=$(mktemp -d /tmp/orderd-pg.XXXXXX)
chmod 0755 "$dir"
[ ${#as_pg[@]} = 0 ] || chown postgres: "$dir"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
printf '%s\n' "$password" > "$dir/password"
chmod 0644 "$dir/password"

stop() {
    local rc=$?
    trap - EXIT INT TERM
    "${as_pg[@]}" "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    exit "$rc"
}
trap stop EXIT
trap 'exit 130' INT TERM

printf '%s\n' "$password" > "$dir/pwfile"
[ ${#as_pg[@]} = 0 ] || chown postgres: "$dir/pwfile"
"${as_pg[@]}" "$initdb" -D "$dir/data" -U postgres --pwfile="$dir/pwfile" --auth-local=trust --auth-host=scram-sha-256 \
    -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
rm -f "$dir/pwfile"
# Connections to 127.0.0.2 (ORDERD_TEST_PG_OTHER_HOST) may come from that address too.
echo "host all all 127.0.0.0/8 scram-sha-256" >> "$dir/data/pg_hba.conf"

# Certificates for the run: a CA, a server certificate it signs (SAN localhost and 127.0.0.1, not 127.0.0.2), and
# an unrelated CA. EC P-256 keys: generated in milliseconds, where RSA would cost a second of a busy machine.
tls="$dir/tls"
mkdir "$tls"
make_ca() {
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=$2" \
        -keyout "$tls/$1.key" -out "$tls/$1.crt" 2>>"$tls/openssl.log" \
        || { cat "$tls/openssl.log" >&2; exit 1; }
}
make_ca ca "orderd test CA"
make_ca wrong-ca "orderd test wrong CA"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
    -keyout "$tls/server.key" -out "$tls/server.csr" 2>>"$tls/openssl.log" || { cat "$tls/openssl.log" >&2; exit 1; }
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > "$tls/server.ext"
openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" -CAcreateserial -days 2 \
    -extfile "$tls/server.ext" -out "$tls/server.crt" 2>>"$tls/openssl.log" || { cat "$tls/openssl.log" >&2; exit 1; }
rm -f "$tls/ca.key" "$tls/wrong-ca.key" "$tls/server.csr"
chmod 0644 "$tls/ca.crt" "$tls/wrong-ca.crt" "$tls/server.crt"
chmod 0600 "$tls/server.key"  # PostgreSQL refuses a key others can read
[ ${#as_pg[@]} = 0 ] || chown -R postgres: "$tls"
# max_connections: several orderd instances with their pools plus the tests' own connections.
"${as_pg[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1,127.0.0.2 -c port=$port -c unix_socket_directories=$dir -c max_connections=400 -c fsync=on -c ssl=on -c ssl_cert_file=$tls/server.crt -c ssl_key_file=$tls/server.key" \
    start >/dev/null || { cat "$dir/postgres.log" >&2; exit 1; }
"${as_pg[@]}" "$bindir/psql" -h "$dir" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -q \
    -c "CREATE ROLE orderd LOGIN CREATEDB PASSWORD '$password'" -c "CREATE DATABASE orderd OWNER orderd" >/dev/null

export ORDERD_TEST_PG_URL="postgres://orderd@127.0.0.1:$port/orderd?sslmode=disable"
export ORDERD_TEST_PG_PASSWORD_FILE="$dir/password"
export ORDERD_TEST_PG_PSQL="$bindir/psql"
export ORDERD_TEST_PG_CA="$tls/ca.crt"
export ORDERD_TEST_PG_WRONG_CA="$tls/wrong-ca.crt"
export ORDERD_TEST_PG_OTHER_HOST=127.0.0.2
echo "with-postgres: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (data in $dir)" >&2
"$@"
