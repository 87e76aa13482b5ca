# lib.sh - what the bench scripts share, sourced after they set here, top,
# out and tmp.  No side effects when sourced.

# Every measured process gets the same small environment: glibc's start-up
# (tunables, ld.so) scans the environment, so a large one (CI's, a login
# shell's) would add tens of thousands of instructions to every row.
cleanenv="env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# bench_docroot [DOCROOT]: $docroot is DOCROOT, else one made in $tmp/www
# by setup.sh (which installs what is missing); made absolute; $out exists.
bench_docroot() {
	if [ $# -ge 1 ]; then
		docroot=$1
	else
		docroot=$tmp/www
		sh "$here/setup.sh" "$docroot" || exit 1
	fi
	docroot=$(cd "$docroot" && pwd)
	mkdir -p "$out" || exit 1
}

# bench_datadir: the option that gives ihttpd a datadir for its parsed
# config when the default (/var/lib/ihttpd) is not ours to write: none as
# root, else one in $tmp.
bench_datadir() {
	[ "$(id -u)" = 0 ] || echo "--datadir $tmp/data"
}

# bench_demo_conf FILE: the demo (conf/ihttpd.conf) serving the bench
# docroot, with a datadir of its own; relative paths in it are from $top.
bench_demo_conf() {
	sed -e "s|^docroot .*|docroot $docroot|" \
	    -e "s|^datadir .*|datadir $tmp/demo-data|" \
	    "$top/conf/ihttpd.conf" >"$1"
}
