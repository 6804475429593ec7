#!/usr/bin/env bash
# conformance.sh — run every backend's conformance suite and print the
# scoreboard: one line "SUITE BACKEND PASSED/TOTAL" per suite and backend,
# then "total PASSED/TOTAL". Exits non-zero when a case fails or is skipped,
# when none ran, or when a package does not build.
#
# The packages are found, not listed: every package with a test function
# whose name starts with TestConformance takes part, so a new backend joins
# the scoreboard by adding one. Needs only Go.
set -uo pipefail
cd "$(dirname "$0")"

pkgs=()
while IFS= read -r dir; do
	pkgs+=("$dir")
done < <(find . \( -name '.?*' -o -name '_*' -o -name testdata -o -name vendor \) -prune -o \
	-name '*_test.go' -type f -print |
	xargs -r grep -lE '^func TestConformance[A-Za-z0-9_]*\(' |
	xargs -r -n1 dirname | sort -u)

if [ "${#pkgs[@]}" -eq 0 ]; then
	echo "conformance: no package has a TestConformance test" >&2
	exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if ! go build -o "$tmp/scoreboard" ./internal/scoreboard; then
	echo "conformance: cannot build the scoreboard" >&2
	exit 1
fi

go test -run '^TestConformance' -count=1 -json "${pkgs[@]}" >"$tmp/test.json"
test_status=$?

"$tmp/scoreboard" <"$tmp/test.json"
board_status=$?

if [ "$board_status" -ne 0 ]; then
	exit "$board_status"
fi
if [ "$test_status" -ne 0 ]; then
	echo "conformance: go test exited with status $test_status" >&2
	exit "$test_status"
fi
