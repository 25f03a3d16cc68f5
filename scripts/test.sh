#!/usr/bin/env bash
# scripts/test.sh — everything CI runs, on a fresh machine: installs the S3
# test server (versitygw, pinned) and staticcheck, then vet, staticcheck,
# all tests (the S3 tests against real versitygw servers on 127.0.0.1; a
# missing server fails them), and a short fuzzing run of every decoder of
# stored data.
#   FUZZTIME=10s (per target; 0 skips fuzzing)   GOFLAGS as usual.
set -euo pipefail
cd "$(dirname "$0")/.."

export LIFEBOAT_VERSITYGW
LIFEBOAT_VERSITYGW=$(scripts/install-versitygw.sh)
echo "versitygw: $LIFEBOAT_VERSITYGW"

tools=$(go env GOPATH | cut -d: -f1)/bin
if [ ! -x "$tools/staticcheck" ]; then
	GOBIN=$tools go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
fi

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "not gofmt-formatted:"; echo "$unformatted"; exit 1
fi
echo "== go vet"
go vet ./...
echo "== staticcheck"
"$tools/staticcheck" ./...

echo "== go test"
go test -count=1 -timeout 20m ./...

fuzztime=${FUZZTIME:-10s}
if [ "$fuzztime" != 0 ]; then
	echo "== fuzz ($fuzztime per target)"
	# Every Fuzz target in the module, package by package.
	for dir in $(git ls-files '*_test.go' | xargs grep -l '^func Fuzz' | xargs -n1 dirname | sort -u); do
		for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go | sed 's/^func //'); do
			echo "-- $dir $target"
			go test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" -fuzzminimizetime=5s "./$dir" >/tmp/lifeboat-fuzz.log 2>&1 || {
				cat /tmp/lifeboat-fuzz.log; echo "fuzz target $target in $dir failed"; exit 1; }
			git clean -fdq -- "$dir/testdata/fuzz" 2>/dev/null || true
		done
	done
fi
echo "all checks passed"
