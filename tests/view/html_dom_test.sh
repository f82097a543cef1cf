#!/bin/sh
# The HTML page in headless Chromium: opened with #selftest, the page clicks every trace in the list and every span
# of its waterfall and writes what it found into #selftest; this script reads that back from the DOM Chromium dumps,
# counts the drawn span rows itself, and takes a screenshot. Fails (never skips) without Chromium.
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

# basic.jsonl: 8 spans in 3 traces; hostile.jsonl: 2 spans whose names and fields carry markup.
"$view" --html "$out/page.html" "$data/basic.jsonl" "$data/hostile.jsonl" 2>"$out/view.err"
spans=10

run_chromium() {
  timeout 60 "$chromium" --headless --disable-gpu --no-sandbox --no-first-run --disable-extensions \
    --disable-dev-shm-usage --user-data-dir="$out/profile" "$@" 2>>"$out/chromium.err"
}
run_chromium --dump-dom "file://$out/page.html#selftest" >"$out/dom.html" || fail "chromium --dump-dom failed"

grep -q 'data-result="pass"' "$out/dom.html" || { sed -n '/id="selftest"/,/<\/pre>/p' "$out/dom.html" >&2;
  fail "the page's self-test did not pass"; }
grep -q 'SELFTEST PASS' "$out/dom.html" || fail "no self-test result in the DOM"
for id in a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1 b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2 c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3 \
          a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8; do
  grep -q "trace $id spans=[0-9]* rows=[0-9]* drawn=[0-9]* fields_shown=[0-9]* ok" "$out/dom.html" ||
    fail "trace $id: not every span drawn and clickable"
done
rows=$(grep -o 'class="row span-row' "$out/dom.html" | wc -l)
[ "$rows" -eq "$spans" ] || fail "expected $spans span rows in the DOM, found $rows"
bars=$(grep -o 'class="bar' "$out/dom.html" | wc -l)
[ "$bars" -eq "$spans" ] || fail "expected $spans bars in the DOM, found $bars"
grep -q 'injected_elements=0' "$out/dom.html" || fail "span data became markup"
if grep -q '<img' "$out/dom.html"; then fail "an <img> element made it into the DOM"; fi
if grep -q 'data-pwned' "$out/dom.html"; then fail "span data ran as script"; fi

run_chromium --screenshot="$out/waterfall.png" --window-size=1280,800 --hide-scrollbars \
  "file://$out/page.html" >/dev/null || fail "chromium --screenshot failed"
[ -f "$out/waterfall.png" ] || fail "no screenshot"
size=$(wc -c <"$out/waterfall.png")
[ "$size" -gt 10000 ] || fail "screenshot is only $size bytes"
[ "$(head -c 8 "$out/waterfall.png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || fail "screenshot is not a PNG"
echo "html_dom_test: $rows span rows drawn, self-test passed, screenshot $out/waterfall.png ($size bytes)"
