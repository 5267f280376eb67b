# Sourced by the bench/*.sh wrappers: what they install, and how.
# `bench_name` names the caller in its messages.

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

is_installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

# Installs each missing package that the mirror has; never fails.
install_packages() {
	local missing=() updated=0 p
	for p in "$@"; do is_installed "$p" || missing+=("$p"); done
	[ ${#missing[@]} -eq 0 ] && return 0
	for p in "${missing[@]}"; do
		if [ $updated -eq 0 ]; then
			echo "$bench_name: installing ${missing[*]}" >&2
			$sudo apt-get update -qq >/dev/null 2>&1 || echo "$bench_name: apt-get update failed" >&2
			updated=1
		fi
		if ! apt-cache show "$p" >/dev/null 2>&1; then
			echo "$bench_name: no package $p here, going on without it" >&2
			continue
		fi
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$p" \
			>/dev/null 2>&1 || echo "$bench_name: could not install $p, going on without it" >&2
	done
	# The nginx package may start a system-wide server; the benchmark runs its own.
	if command -v systemctl >/dev/null && systemctl is-active --quiet nginx 2>/dev/null; then
		$sudo systemctl stop nginx || true
	fi
}

# Build tools and libraries: the project's own list.
install_build_deps() {
	if ! command -v meson >/dev/null || ! command -v ninja >/dev/null || ! command -v cc >/dev/null ||
		! is_installed libcurl4-openssl-dev; then
		scripts/deps.sh
	fi
}
