#!/usr/bin/perl
# form.pl - the demo's CGI.pm form (Debian: libcgi-pm-perl).  GET shows a
# form with a name, a text area and a file; POST shows what was sent, each
# value escaped with escapeHTML, and the uploaded file's name and size.
#   curl -F name=Ada -F note=hi -F file=@/etc/hostname \
#       http://127.0.0.1:8080/cgi-bin/form.pl
use strict;
use warnings;
use CGI;

# ihttpd refuses bodies over max_body itself; CGI.pm's own cap is smaller.
$CGI::POST_MAX = 8 * 1024 * 1024;

my $q = CGI->new;
if (my $err = $q->cgi_error) {		# e.g. "413 Request entity too large"
	print $q->header(-status => $err, -type => 'text/plain',
	    -charset => 'utf-8'), "$err\n";
	exit 0;
}

sub esc { my $v = shift; return defined $v ? $q->escapeHTML($v) : ''; }

print $q->header(-type => 'text/html', -charset => 'utf-8');
# The form posts back to this script: SCRIPT_NAME, never $0 (/dev/fd/3).
my $self = esc($ENV{SCRIPT_NAME} // '');
print <<"HTML";
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>form.pl &ndash; ihttpd demo</title>
<link rel="stylesheet" href="/style.css">
</head>
<body>
<header>
<h1><a href="/">ihttpd demo</a></h1>
</header>
<main>
HTML

if ($q->request_method eq 'POST') {
	print "<h2>You sent</h2>\n<dl>\n";
	print '<dt>name</dt><dd>', esc(scalar $q->param('name')), "</dd>\n";
	print '<dt>note</dt><dd><pre>', esc(scalar $q->param('note')),
	    "</pre></dd>\n";
	my $fh = $q->upload('file');
	if (defined $fh) {
		my $info = $q->uploadInfo($fh);
		my $type = $info ? $info->{'Content-Type'} : undef;
		printf "<dt>file</dt><dd>%s, %d bytes%s</dd>\n",
		    esc(scalar $q->param('file')), -s $fh,
		    defined $type ? ', ' . esc($type) : '';
	} else {
		print "<dt>file</dt><dd>(none)</dd>\n";
	}
	print "</dl>\n";
}

print <<"HTML";
<h2>A CGI.pm form</h2>
<form method="post" action="$self" enctype="multipart/form-data">
<p><label>Name <input type="text" name="name"></label></p>
<p><label>Note<br><textarea name="note" rows="4" cols="40"></textarea></label></p>
<p><label>File <input type="file" name="file"></label></p>
<p><button>Send</button></p>
</form>
</main>
<footer>
<p><a href="/">Home</a> &middot; served by ihttpd</p>
</footer>
</body>
</html>
HTML
