#!/bin/sh
# install-versitygw.sh installs the versitygw S3 server used by Lifeboat's
# tests into $LIFEBOAT_TOOLS (default: $(go env GOPATH)/bin), unless it is
# already there. It prints the binary's path. Safe to run repeatedly.
set -eu

VERSION=v1.8.0
dir=${LIFEBOAT_TOOLS:-}
if [ -z "$dir" ]; then
	# GOPATH may list several directories; go install uses the first.
	dir=$(go env GOPATH | cut -d: -f1)/bin
fi
bin=$dir/versitygw

if [ ! -x "$bin" ]; then
	mkdir -p "$dir"
	echo "installing versitygw $VERSION into $dir (takes a few minutes on a fresh machine)" >&2
	GOBIN=$dir go install "github.com/versity/versitygw/cmd/versitygw@$VERSION"
fi
if [ ! -x "$bin" ]; then
	echo "install-versitygw: $bin missing after install" >&2
	exit 1
fi
echo "$bin"
