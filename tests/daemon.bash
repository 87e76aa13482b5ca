# Shared by the bats files that start the standalone server (standalone,
# tls): processes by pid, bounded waits, and `sa`, which starts a server
# and reads the port it bound.  The caller's setup sets T (a temporary
# directory), CONF, SERVERS=() , HELPERS=() and NSERV=0; its teardown
# stops every pid in SERVERS with stop_server and HELPERS with kill.

# ---- processes ----------------------------------------------------------

# alive PID: the process exists and is not a zombie.
alive() {
	local st
	st=$(sed 's/.*) //; s/ .*//' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ]
}

gone() {
	! alive "$1"
}

# kids PID: the children of PID, one a line.
kids() {
	cat /proc/"$1"/task/*/children 2>/dev/null | tr ' ' '\n' | grep . ||
	    true
}

# descendants PID: every process below PID.
descendants() {
	local c
	for c in $(kids "$1"); do
		echo "$c"
		descendants "$c"
	done
}

# not_kid PID CHILD: CHILD is not (or no longer) a child of PID.
not_kid() {
	! kids "$1" | grep -qx "$2"
}

# nkids PID: how many children PID has.
nkids() {
	kids "$1" | wc -l
}

# nk OP N: the master ($SA_PID) has OP N children (test(1)'s -eq, -ge...),
# counted when called: for wait_for.
nk() {
	[ "$(nkids "$SA_PID")" "$1" "$2" ]
}

# wait_for SECONDS COMMAND...: run COMMAND every 0.1 s until it succeeds.
wait_for() {
	local n=$(($1 * 10)) i
	shift
	for ((i = 0; i < n; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	echo "still false after $((n / 10)) s: $*" >&2
	return 1
}

# stop_server PID: TERM, up to 15 s to exit, then KILL it and whatever it
# left behind (its descendants as they were before the TERM).
stop_server() {
	local p=$1 d
	d=$(descendants "$p")
	kill -TERM "$p" 2>/dev/null
	wait_for 15 gone "$p" 2>/dev/null
	for c in $d $p; do
		alive "$c" && kill -KILL "$c" 2>/dev/null
	done
	wait "$p" 2>/dev/null
	return 0
}

# stop_started: the helpers in HELPERS (killed) and the servers in
# SERVERS (stop_server), for a teardown.
stop_started() {
	local p
	for p in "${HELPERS[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	for p in "${SERVERS[@]}"; do
		stop_server "$p"
	done
}

# crash_free: no server log $T/err.* tells of a crash or a sanitizer
# report (what it says is printed, with the file's name).
crash_free() {
	local f bad=0
	for f in "$T"/err.*; do
		[ -f "$f" ] || continue
		if grep -E 'killed by SIG(SEGV|ABRT|BUS|FPE|ILL|SYS)|Sanitizer|runtime error:' \
		    "$f" >&2; then
			echo "in $f" >&2
			bad=1
		fi
	done
	return "$bad"
}

# ---- servers ------------------------------------------------------------

# sa [ihttpd args...]: start ihttpd -c ${SA_CONF:-$CONF} --standalone on
# ARGS in the background, on --port 127.0.0.1:0 unless ARGS name a port,
# and wait until it has started.  SA_PID is the master, SA_ERR its
# standard error, PORT the first TCP port it listens on.
sa() {
	local a port=1
	for a in "$@"; do
		[[ $a == --port* ]] && port=
	done
	NSERV=$((NSERV + 1))
	SA_ERR=$T/err.$NSERV
	"$IHTTPD" -c "${SA_CONF:-$CONF}" --standalone on \
	    ${port:+--port 127.0.0.1:0} "$@" \
	    </dev/null >"$SA_ERR.out" 2>"$SA_ERR" 3>&- &
	SA_PID=$!
	SERVERS+=("$SA_PID")
	wait_started
	PORT=$(sed -n 's/^ihttpd: listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' \
	    "$SA_ERR" | head -1)
}

# wait_started [COUNT]: the COUNTth "started"/"restarted" line (default 1)
# is in $SA_ERR: the master's signal handlers are in place.
wait_started() {
	local want=${1:-1} i
	for ((i = 0; i < 300; i++)); do
		[ "$(grep -Ec 'ihttpd [^ ]+ (re)?started: [a-z]+ server' \
		    "$SA_ERR")" -ge "$want" ] && return 0
		if gone "$SA_PID"; then
			echo "ihttpd exited:" >&2
			cat "$SA_ERR" >&2
			return 1
		fi
		sleep 0.1
	done
	echo "ihttpd did not start:" >&2
	cat "$SA_ERR" >&2
	return 1
}

# helper: remember a background helper's pid ($!) for teardown.
helper() {
	HELPERS+=("$1")
}

url() {
	printf 'http://127.0.0.1:%s%s' "$PORT" "$1"
}

# The arguments of each personality: never more than 2 workers at once.
targs() {
	case $1 in
	single)		echo --type single ;;
	fork)		echo --type fork --max_servers 2 ;;
	preforksimple)	echo --type preforksimple --max_servers 2 ;;
	prefork)	echo --type prefork --min_servers 1 --min_spare_servers 1 \
			    --max_spare_servers 2 --max_servers 2 ;;
	esac
}
