#!/bin/sh
# hello.sh - the demo's CGI script in POSIX sh: a few of the variables
# ihttpd gives a script, HTML-escaped.  Try
#   curl http://127.0.0.1:8080/cgi-bin/hello.sh
#   curl 'http://127.0.0.1:8080/cgi-bin/hello.sh/a/path?two+words'
# (a query without '=' also becomes the arguments, RFC 3875 4.4).

# Every value is escaped before it goes into the page.
esc() {
	printf '%s' "$1" | sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' \
	    -e 's/>/\&gt;/g' -e 's/"/\&quot;/g' -e "s/'/\&#39;/g"
}

row() {
	printf '<tr><th>%s</th><td>%s</td></tr>\n' "$1" "$(esc "$2")"
}

printf 'Content-Type: text/html; charset=utf-8\n\n'

cat <<'HTML'
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>hello.sh &ndash; ihttpd demo</title>
<link rel="stylesheet" href="/style.css">
</head>
<body>
<header>
<h1><a href="/">ihttpd demo</a></h1>
</header>
<main>
<h2>Hello from a CGI script</h2>
<table>
HTML
for v in GATEWAY_INTERFACE SERVER_SOFTWARE SERVER_PROTOCOL REQUEST_METHOD \
    REQUEST_URI SCRIPT_NAME SCRIPT_FILENAME PATH_INFO QUERY_STRING \
    REMOTE_ADDR HTTP_USER_AGENT; do
	val=
	eval "val=\${$v-(unset)}"	# $v is one of the names above
	row "$v" "$val"
done
# $0 is /dev/fd/3: the kernel hands sh the script as its open file.
row "\$0" "$0"
row 'arguments' "$*"
row 'working directory' "$(pwd)"
cat <<'HTML'
</table>
</main>
<footer>
<p><a href="/">Home</a> &middot; served by ihttpd</p>
</footer>
</body>
</html>
HTML
