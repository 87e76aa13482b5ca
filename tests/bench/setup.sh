#!/bin/sh
# Bench prerequisites: installs the peers and tools that are missing (as
# root, with apt-get; `apt-get update` only when something is missing) and
# fills the docroot $1 with index.html and 1k.txt, 1024 bytes each.
# A package that cannot be installed is reported and skipped: the rows that
# need it say so.  Exit status 0 unless the docroot cannot be made.
set -u
docroot=${1:?usage: setup.sh DOCROOT}

PKGS="busybox micro-httpd lighttpd lighttpd-mod-openssl nginx-light h2o ucspi-tcp valgrind strace wrk hyperfine curl"

installed() {
	dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q 'ok installed'
}

missing=""
for p in $PKGS; do
	installed "$p" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "setup: installing:$missing"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq >/dev/null 2>&1 || echo "setup: apt-get update failed"
		# One transaction first; if it fails, one package at a time so
		# that one unavailable package does not block the others.
		if ! apt-get install -y -qq --no-install-recommends $missing \
		    </dev/null >/dev/null 2>&1; then
			for p in $missing; do
				apt-get install -y -qq --no-install-recommends "$p" \
				    </dev/null >/dev/null 2>&1 ||
				    echo "setup: $p not installable, skipped"
			done
		fi
	else
		echo "setup: missing:$missing (as root: apt-get install$missing); those rows are skipped"
	fi
fi

mkdir -p "$docroot" || exit 1
# Readable by nginx's unprivileged worker.
chmod 755 "$docroot"
# 1024 bytes: a tiny HTML page padded with a comment.
f="$docroot/index.html"
printf '<!DOCTYPE html>\n<html><head><title>bench</title></head>\n' >"$f"
printf '<body><p>ihttpd bench page, 1 KiB.</p></body></html>\n<!--' >>"$f"
pad=$((1024 - $(wc -c <"$f") - 4))
head -c "$pad" /dev/zero | tr '\0' x >>"$f"
printf -- '-->\n' >>"$f"
# 1024 bytes: 16 lines of 63 characters and a newline.
i=0
while [ $i -lt 16 ]; do
	printf '%063d\n' "$i"
	i=$((i + 1))
done >"$docroot/1k.txt"
chmod 644 "$docroot/index.html" "$docroot/1k.txt"
for f in index.html 1k.txt; do
	n=$(wc -c <"$docroot/$f")
	[ "$n" -eq 1024 ] || { echo "setup: $f is $n bytes, not 1024"; exit 1; }
done
exit 0
