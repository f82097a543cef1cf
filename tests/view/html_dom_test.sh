#!/bin/sh
# The HTML page in headless Chromium at 1400x900: opened with #selftest, the page clicks every trace in the list and
# every span of its waterfall, measures its layout (the selected trace's waterfall on screen beside or below the list,
# the page not scrolling), checks the time axis, the service colours and the filter box, and writes what it found
# into #selftest; this script reads that back from the DOM Chromium dumps, counts the drawn span rows and checks the
# list's columns itself, and takes a screenshot. Fails (never skips) without Chromium.
# usage: html_dom_test.sh BEELINE_VIEW DATA_DIR OUT_DIR
set -eu
view=$1 data=$2 out=$3
chromium=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chromium" ]; then
  echo "html_dom_test: chromium is not installed (scripts/deps.sh installs it)" >&2
  exit 1
fi
rm -rf "$out" && mkdir -p "$out"
out=$(cd "$out" && pwd)  # file:// needs an absolute path
fail() { echo "html_dom_test: $*" >&2; exit 1; }

# basic.jsonl: 8 spans in 3 traces; hostile.jsonl: 2 spans whose names and fields carry markup; services.jsonl:
# 11 spans in 3 traces over 4 services, one of them a service's part only (its local root's caller elsewhere).
"$view" --html "$out/page.html" "$data/basic.jsonl" "$data/hostile.jsonl" "$data/services.jsonl" 2>"$out/view.err"
spans=21

run_chromium() {
  timeout 60 "$chromium" --headless --disable-gpu --no-sandbox --no-first-run --disable-extensions \
    --disable-dev-shm-usage --disable-quic --disable-background-networking --disable-component-update \
    --disable-sync --user-data-dir="$out/profile" --window-size=1400,900 --hide-scrollbars "$@" 2>>"$out/chromium.err"
}
run_chromium --dump-dom "file://$out/page.html#selftest" >"$out/dom.html" || fail "chromium --dump-dom failed"

grep -q 'data-result="pass"' "$out/dom.html" || { sed -n '/id="selftest"/,/<\/pre>/p' "$out/dom.html" >&2;
  fail "the page's self-test did not pass"; }
# What the page wrote into #selftest (the page's script, also in the DOM, holds the same words).
sed -n '/<pre id="selftest"/,/<\/pre>/p' "$out/dom.html" >"$out/selftest.txt"
grep -q 'SELFTEST PASS' "$out/selftest.txt" || fail "no self-test result in the DOM"
for id in a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1 b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2 c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3 \
          a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8 d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4 e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5 \
          f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6; do
  grep -q "trace $id spans=[0-9]* rows=[0-9]* drawn=[0-9]* fields_shown=[0-9]* ok" "$out/selftest.txt" ||
    fail "trace $id: not every span drawn and clickable"
  grep -q "axis trace $id ticks=[0-9]* labels=0|[^ ]* ok" "$out/selftest.txt" || fail "trace $id: no usable time axis"
done
# The selected trace's first span rows and the list's first row on screen, side by side, the page not scrolling.
# Chromium's --dump-dom window keeps part of --window-size for its frame (the page sees 1400x757 or so): a layout
# that fits there fits a 1400x900 screen, which the screenshot below is taken at.
grep -Eq 'layout viewport=1400x(7[0-9][0-9]|8[0-9][0-9]|900) list=[0-9,.-]* waterfall=[0-9,.-]* beside ok' \
  "$out/selftest.txt" || fail "the waterfall is not on screen beside the list: $(grep 'layout' "$out/selftest.txt")"
# web, quickstart, api, worker, frontend, payments, inventory, catalog: one colour each, all different.
grep -q 'colours services=8 distinct=8 ok' "$out/selftest.txt" ||
  fail "services do not have one distinct colour each: $(grep 'colours' "$out/selftest.txt")"
grep -q 'filter traces=7 services=8 ok' "$out/selftest.txt" ||
  fail "the filter box does not show exactly the matching traces: $(grep 'filter' "$out/selftest.txt")"
# The list's columns: method, path and status beside the root's name (a local root for e5e5, not "(no root)").
row() { tr '\n' ' ' <"$out/dom.html" | grep -o "<tr data-trace-id=\"$1[^\"]*\"[^>]*>.*" | sed 's|</tr>.*||'; }
cells() { row "$1" | sed 's/<[^>]*>/|/g' | tr -s '|'; }
cells d4d4 | grep -q '|frontend|POST /checkout|POST|/checkout|200|' || fail "d4d4's list row: $(cells d4d4)"
cells e5e5 | grep -q '|payments|POST /v1/charges|POST|/v1/charges|502|' || fail "e5e5's list row: $(cells e5e5)"
cells f6f6 | grep -q '|catalog|item.delete|DELETE|/api/items/42|404|' || fail "f6f6's list row: $(cells f6f6)"
if grep -q 'class="orphan"' "$out/dom.html"; then fail "a local root was shown as an orphan"; fi
rows=$(grep -o 'class="row span-row' "$out/dom.html" | wc -l)
[ "$rows" -eq "$spans" ] || fail "expected $spans span rows in the DOM, found $rows"
bars=$(grep -o 'class="bar' "$out/dom.html" | wc -l)
[ "$bars" -eq "$spans" ] || fail "expected $spans bars in the DOM, found $bars"
grep -q 'injected_elements=0' "$out/dom.html" || fail "span data became markup"
if grep -q '<img' "$out/dom.html"; then fail "an <img> element made it into the DOM"; fi
if grep -q 'data-pwned' "$out/dom.html"; then fail "span data ran as script"; fi

run_chromium --screenshot="$out/waterfall.png" "file://$out/page.html" >/dev/null || fail "chromium --screenshot failed"
[ -f "$out/waterfall.png" ] || fail "no screenshot"
size=$(wc -c <"$out/waterfall.png")
[ "$size" -gt 10000 ] || fail "screenshot is only $size bytes"
[ "$(head -c 8 "$out/waterfall.png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || fail "screenshot is not a PNG"
echo "html_dom_test: $rows span rows drawn, self-test passed, screenshot $out/waterfall.png ($size bytes)"
