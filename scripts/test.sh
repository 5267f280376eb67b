#!/usr/bin/env bash
# Sets everything up and runs every test twice: a plain build with warnings
# as errors, then one under AddressSanitizer + UndefinedBehaviorSanitizer.
# Ends with the line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh || exit 1

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

run_suite() { # name, meson options...
  local dir=$1; shift
  rm -rf "$dir"
  meson setup "$dir" --werror --wrap-mode=nofallback "$@" >"$dir.setup.log" 2>&1 || { cat "$dir.setup.log"; return 1; }
  ninja -C "$dir" || return 1
  meson test -C "$dir" --print-errorlogs --num-processes 2 || true
}

run_suite build-test -Dbuildtype=debugoptimized
run_suite build-asan -Dbuildtype=debug -Db_sanitize=address,undefined -Db_lundef=false

# A short libFuzzer run of each target (clang from Debian): every
# fuzz/fuzz_NAME.c, from a copy of its seeds in fuzz/corpus/NAME/ (the
# tree's seeds stay as they are); a crash's input is left in build-fuzz/.
fuzz_targets=()
for f in fuzz/fuzz_*.c; do
  t=${f#fuzz/fuzz_}; fuzz_targets+=("${t%.c}")
done
rm -rf build-fuzz fuzz-results.txt
if CC=clang meson setup build-fuzz --werror --wrap-mode=nofallback -Dfuzz=true -Db_sanitize=address,undefined \
     -Db_lundef=false >build-fuzz.setup.log 2>&1 && ninja -C build-fuzz >/dev/null; then
  for t in "${fuzz_targets[@]}"; do
    corpus="build-fuzz/corpus-$t"
    mkdir -p "$corpus"
    if ! cp -p "fuzz/corpus/$t"/* "$corpus/"; then
      echo "fuzz_$t FAIL (no seeds in fuzz/corpus/$t)" | tee -a fuzz-results.txt
    elif "build-fuzz/fuzz_$t" -max_total_time=20 -rss_limit_mb=2048 \
         -artifact_prefix="build-fuzz/$t-" "$corpus" >"build-fuzz/$t.log" 2>&1; then
      echo "fuzz_$t OK" | tee -a fuzz-results.txt
    else
      tail -30 "build-fuzz/$t.log"; echo "fuzz_$t FAIL" | tee -a fuzz-results.txt
    fi
  done
else
  cat build-fuzz.setup.log; echo "fuzz build FAIL" | tee -a fuzz-results.txt
fi

python3 - <<'PY'
import json, os, sys
passed = failed = skipped = 0
for d in ("build-test", "build-asan"):
    path = os.path.join(d, "meson-logs", "testlog.json")
    if not os.path.exists(path):
        print(f"{d}: no test log (the build failed)")
        failed += 1
        continue
    for line in open(path):
        r = json.loads(line)["result"]
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
if os.path.exists("fuzz-results.txt"):
    for line in open("fuzz-results.txt"):
        if line.split()[-1] == "OK":
            passed += 1
        else:
            failed += 1
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
sys.exit(1 if failed else 0)
PY
