#!/bin/sh
# install-s3rver.sh installs s3rver (MIT), an S3 server on Node that ignores
# If-None-Match, which Lifeboat's tests use as a server without working
# conditional creates. It goes into $LIFEBOAT_TOOLS/s3rver-VERSION (default:
# $(go env GOPATH)/lifeboat-tools/s3rver-VERSION) with npm, unless it is
# already there, and the script prints the path of its s3rver.js. Needs node
# and npm (Debian: apt-get install nodejs npm). Safe to run repeatedly.
set -eu

VERSION=3.7.1
base=${LIFEBOAT_TOOLS:-}
if [ -z "$base" ]; then
	# GOPATH may list several directories; use the first, like go install.
	base=$(go env GOPATH | cut -d: -f1)/lifeboat-tools
fi
dir=$base/s3rver-$VERSION
js=$dir/node_modules/s3rver/bin/s3rver.js

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	# A fresh machine without Node: as root, Debian's packages bring it.
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "install-s3rver: installing nodejs and npm with apt-get" >&2
		apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >&2
	fi
fi
for tool in node npm; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "install-s3rver: $tool not found (apt-get install nodejs npm)" >&2
		exit 1
	fi
done
if [ ! -f "$js" ]; then
	mkdir -p "$dir"
	echo "installing s3rver $VERSION into $dir" >&2
	npm install --prefix "$dir" --no-audit --no-fund --no-save --loglevel=error "s3rver@$VERSION" >&2
fi
if [ ! -f "$js" ]; then
	echo "install-s3rver: $js missing after install" >&2
	exit 1
fi
echo "$js"
