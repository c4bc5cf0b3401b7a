#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The project's documentation stands alone (issue 12, findings 14 and 15):
# README.md, docs/ and man/ cite no document outside the tree (the design
# notes DESIGN.md and SNP-FIRMWARE.md, ../shared/), every docs/NAME.md they
# name exists, and no user manual page documents a test-only variable
# (SNPSEAL_TEST_*: the tests' hooks, docs/ARCHITECTURE.md describes them).
. "$top_srcdir/tests/tap.sh"

S=$top_srcdir
trap 'rm -f "$TAP_OUT" "$TAP_OUT.err"' EXIT
DOCS="$S/README.md $(ls "$S"/docs/*.md) $(ls "$S"/man/*.[1-8])"

# shellcheck disable=SC2086
grep -nE 'DESIGN\.md|SNP-FIRMWARE\.md|\.\./shared' $DOCS >"$TAP_OUT" 2>&1
if [ -s "$TAP_OUT" ]; then
        _tap_result not-ok "no document cites DESIGN.md, SNP-FIRMWARE.md or ../shared (not in the tree)" "$TAP_OUT"
else
        _tap_result ok "no document cites DESIGN.md, SNP-FIRMWARE.md or ../shared (not in the tree)"
fi

# shellcheck disable=SC2086
grep -ohE 'docs/[A-Za-z0-9_-]+\.md' $DOCS | sort -u | while read -r d; do
        [ -f "$S/$d" ] || echo "$d is named but not in the tree"
done >"$TAP_OUT"
if [ -s "$TAP_OUT" ]; then
        _tap_result not-ok "every docs/NAME.md the documents name exists" "$TAP_OUT"
else
        _tap_result ok "every docs/NAME.md the documents name exists"
fi

grep -nE 'SNPSEAL_TEST_' "$S"/man/*.[1-8] >"$TAP_OUT" 2>&1
if [ -s "$TAP_OUT" ]; then
        _tap_result not-ok "no manual page documents a test-only SNPSEAL_TEST_ variable" "$TAP_OUT"
else
        _tap_result ok "no manual page documents a test-only SNPSEAL_TEST_ variable"
fi

tap_done
