#!/usr/bin/env bash
# Installs what juggle needs to build and test, from Debian's packages.
set -euo pipefail
packages=(
  build-essential meson ninja-build pkg-config
  libcurl4-openssl-dev libev-dev libc-ares-dev libutf8proc-dev zlib1g-dev libssl-dev libcmocka-dev
  libzstd-dev libbrotli-dev
  python3 python3-pytest nginx-light openssl curl tmux
  clang libclang-rt-14-dev
  abigail-tools
  slurmctld slurmd slurm-client munge
)
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
# The nginx package starts a system-wide server; the tests run their own.
if command -v systemctl >/dev/null && systemctl is-active --quiet nginx 2>/dev/null; then
  $sudo systemctl stop nginx || true
fi
