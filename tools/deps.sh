#!/bin/sh
# Checks the Debian packages wlb builds against and, when run as root,
# installs what is missing; otherwise prints the exact apt-get line and fails.
set -u
missing=""
have_pc() { pkg-config --exists "$1" 2>/dev/null; }
have_hdr() { [ -f "/usr/include/$1" ]; }
have_hdr gsl/gsl_rng.h || have_pc gsl || missing="$missing libgsl-dev"
have_hdr jansson.h || have_pc jansson || missing="$missing libjansson-dev"
have_hdr sqlite3.h || have_pc sqlite3 || missing="$missing libsqlite3-dev"
command -v gnuplot >/dev/null 2>&1 || missing="$missing gnuplot-nox"
command -v jq >/dev/null 2>&1 || missing="$missing jq"
command -v pkg-config >/dev/null 2>&1 || missing="$missing pkg-config"
[ -z "$missing" ] && exit 0
line="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "deps: installing$missing" >&2
	apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $line >&2 && exit 0
	echo "deps: apt-get failed; run: $line" >&2
	exit 1
fi
echo "deps: missing$missing; run as root: $line" >&2
exit 1
