#!/bin/sh
# `make tlscheck`: testssl.sh (Debian's testssl.sh package) against a
# standalone ihttpd with a TLS port on 127.0.0.1, with the defaults every
# user gets (protocols, ciphers, groups, tickets) and HSTS on.  A test CA
# and a certificate for localhost are made here and handed to testssl.sh
# with --add-ca, so the chain of trust is judged, not the self-signature;
# --nodns none and --ip 127.0.0.1 keep every packet on this machine.
# Prints the findings rated "NOT ok" or "VULNERABLE" (the goal: none) and
# exits 1 when there is one; the whole report goes to build/tlscheck.txt.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
IHTTPD=${IHTTPD:-$top/build/ihttpd}
out=$top/build/tlscheck.txt
command -v testssl >/dev/null || { echo "tlscheck: testssl.sh is not installed"; exit 1; }
[ -x "$IHTTPD" ] || { echo "tlscheck: no $IHTTPD (run make)"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ihttpd-tlscheck.XXXXXX") || exit 1
pid=""
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cd "$tmp" || exit 1
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem \
    -days 2 -subj /CN=ihttpd-tlscheck-CA \
    -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null || exit 1
openssl req -new -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr \
    -subj /CN=localhost 2>/dev/null || exit 1
# a CRL address as a real certificate has (nothing fetches it)
printf '%s\n' 'subjectAltName=DNS:localhost,IP:127.0.0.1' \
    'extendedKeyUsage=serverAuth' \
    'crlDistributionPoints=URI:http://127.0.0.1/ihttpd-tlscheck.crl' >srv.ext
openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
    -days 2 -sha256 -extfile srv.ext -out srv.pem 2>/dev/null || exit 1
cat srv.pem ca.pem >chain.pem
chmod 600 srv.key
mkdir -m 700 data
cd "$top" || exit 1

"$IHTTPD" -c conf/ihttpd.conf --standalone on --type prefork \
    --min_servers 2 --port 127.0.0.1:0/tls --tls_cert "$tmp/chain.pem" \
    --tls_key "$tmp/srv.key" --datadir "$tmp/data" --access_log off \
    --hsts 31536000 </dev/null 2>"$tmp/err" &
pid=$!
port=""
i=0
while [ $i -lt 100 ] && [ -z "$port" ]; do
	port=$(sed -n 's/^ihttpd: listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' \
	    "$tmp/err" | head -1)
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
	i=$((i + 1))
done
[ -n "$port" ] || { echo "tlscheck: ihttpd did not start:"; cat "$tmp/err"; exit 1; }

echo "tlscheck: testssl.sh against localhost:$port (a few minutes)"
timeout -k 10 1200 testssl --quiet --color 0 --nodns none --ip 127.0.0.1 \
    --add-ca "$tmp/ca.pem" --warnings off --openssl-timeout 10 \
    "localhost:$port" >"$tmp/report.txt" 2>&1
mkdir -p "$top/build" && cp "$tmp/report.txt" "$out"
bad=$(grep -E 'NOT ok|VULNERABLE' "$tmp/report.txt" | grep -v 'not vulnerable')
if [ -n "$bad" ]; then
	echo "$bad"
	echo "tlscheck: findings above (full report: $out)"
	exit 1
fi
grep -E '^ (SSLv2|SSLv3|TLS 1(\.[0-3])?) ' "$tmp/report.txt"
echo "tlscheck: nothing NOT ok or VULNERABLE (full report: $out)"
