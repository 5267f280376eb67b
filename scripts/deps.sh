#!/usr/bin/env bash
# Installs, from Debian's packages, what juggle needs: `deps.sh demo` what
# building it and its test server takes (the demo), `deps.sh` or
# `deps.sh test` that and what the tests and fuzzers use besides.
set -euo pipefail
profile=${1:-test}
packages=(
  build-essential meson ninja-build pkg-config
  libcurl4-openssl-dev libev-dev libc-ares-dev libutf8proc-dev zlib1g-dev libssl-dev
  libzstd-dev libbrotli-dev
)
case $profile in
  demo) ;;
  test)
    packages+=(
      libcmocka-dev python3 python3-pytest nginx-light openssl curl
      tinyproxy microsocks socat strace tmux
      clang libclang-rt-14-dev
      abigail-tools
      # bench/lesson.py and its asyncio sequel, checked by test_lesson.py.
      python3-requests python3-aiohttp
      slurmctld slurmd slurm-client munge
      # What `pkg-config --static --libs juggle` names through libcurl's
      # own Libs.private (the static-link test).
      libnghttp2-dev librtmp-dev libssh2-1-dev libpsl-dev libkrb5-dev libldap2-dev libidn2-dev
    ) ;;
  *) echo "deps.sh: expected 'demo' or 'test', got '$profile'" >&2; exit 2 ;;
esac
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The nginx and tinyproxy packages start system-wide servers; the tests
# run their own.
for service in nginx tinyproxy; do
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$service" 2>/dev/null; then
    $sudo systemctl stop "$service" || true
  fi
done
