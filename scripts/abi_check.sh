#!/usr/bin/env bash
# Checks that a built libjuggle keeps the ABI of the last release.
#
#   scripts/abi_check.sh LIBRARY_PATH HEADERS_DIR
#   scripts/abi_check.sh --update LIBRARY_PATH HEADERS_DIR
#
# LIBRARY_PATH is the shared library as built (e.g. build/libjuggle.so.0.4.0),
# HEADERS_DIR the directory of its public header (include/). The build must
# carry DWARF (-g: meson's debug or debugoptimized buildtype, the default).
# Needs libabigail's abidw and abidiff (Debian: abigail-tools, which
# scripts/deps.sh installs). meson runs it as the test `abi` (suite `abi`).
#
# The baseline is abi/SONAME.abi (abi/libjuggle.so.0.abi): the ABI of the
# last release as `abidw` writes it, restricted to what juggle.h declares
# (types defined anywhere else are dropped, opaque structs stay opaque,
# undefined symbols are left out), without paths of the tree that built it
# (file names only) so that it is the same from any checkout. The check
# writes the same description of LIBRARY_PATH and compares the two with
# `abidiff`, with the suppressions in abi/juggle.abignore (changes the
# project declares compatible) and without libabigail's default ones.
#
# abidiff's exit status is a bitmask: 1 error, 2 usage error, 4 ABI change,
# 8 incompatible ABI change. It sets 8 only for what is incompatible for
# sure (a symbol removed); a change to a type or a signature of an
# existing function (a field inserted into struct jg_stats) is only 4,
# "might or might not be compatible": this check counts those as
# incompatible. What it allows is additions alone, i.e. an abidiff that
# finds no change once told to ignore added functions and variables
# (--no-added-syms). So:
#
#   - no change, or only new functions or variables: passes, printing
#     abidiff's report of what was added;
#   - a symbol removed, or anything about an existing one changed (a public
#     struct's layout, a parameter, a return type): fails, unless the
#     library's SONAME differs from the baseline's: a bumped soversion is
#     how an incompatible release is made, so that passes, saying that the
#     baseline must be regenerated for the new SONAME (until it is, every
#     change passes).
#
# Exit status: 0 pass, 1 incompatible ABI change, 2 bad usage, 77 skipped
# (meson's SKIP: abigail-tools missing, no debug info, baseline for another
# architecture), 99 could not check (abidw or abidiff failed, no baseline).
# The last line printed is the verdict: "abi: PASS ...", "abi: FAIL ...",
# "abi: SKIP ..." or "abi: ERROR ...".
#
# --update regenerates the baseline from LIBRARY_PATH: run it at a release,
# once the release's tree is final (version and soversion set in
# meson.build, this check passing against the previous baseline or the
# soversion bumped), on a debugoptimized build of that tree, and commit the
# abi/ it leaves with the release:
#
#   meson setup /tmp/rel -Dbuildtype=debugoptimized && ninja -C /tmp/rel
#   scripts/abi_check.sh --update /tmp/rel/libjuggle.so.X.Y.Z include
#
# Never between releases to make the check pass: the baseline is what
# programs built against the release expect. It writes abi/NEW_SONAME.abi
# and removes the baselines of other SONAMEs in abi/ (after a soversion
# bump, the old one is superseded).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
abi_dir=$here/../abi

usage() {
	echo "usage: $0 [--update] LIBRARY_PATH HEADERS_DIR" >&2
	exit 2
}

update=0
if [ "${1:-}" = "--update" ]; then
	update=1
	shift
fi
[ $# -eq 2 ] || usage
lib=$1
headers=$2
[ -f "$lib" ] || { echo "abi: ERROR: no library at $lib"; exit 99; }
[ -d "$headers" ] || { echo "abi: ERROR: no headers directory at $headers"; exit 99; }

for tool in abidw abidiff; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "abi: SKIP: $tool not installed: libabigail's tools are needed" \
		     "(Debian: apt-get install abigail-tools, or scripts/deps.sh)"
		exit 77
	fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/abi_check.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT

# The one description of an ABI, for the baseline and the check alike.
# --headers-dir + --drop-private-types: only types juggle.h defines;
# --drop-undefined-syms: not the functions it calls (libc, curl, ...);
# --no-corpus-path, --no-comp-dir-path, --short-locs: no path of the tree
# or build directory; --no-elf-needed: its DT_NEEDED (the sanitizers' and
# its dependencies' libraries) are no part of its interface;
# --type-id-style hash: ids that do not all shift when one type is added.
abidw_describe() { # library, output
	abidw --headers-dir "$headers" --drop-private-types --drop-undefined-syms \
	      --no-corpus-path --no-comp-dir-path --short-locs --no-elf-needed \
	      --type-id-style hash --out-file "$2" "$1" 2>"$tmp/abidw.err"
}

# An attribute of the <abi-corpus> element: soname, architecture.
corpus_attr() { # file, attribute
	sed -n "s/^<abi-corpus .*[[:space:]]$2='\([^']*\)'.*/\1/p;/^<abi-corpus/q" "$1"
}

current=$tmp/current.abi
if ! abidw_describe "$lib" "$current"; then
	cat "$tmp/abidw.err"
	echo "abi: ERROR: abidw could not read $lib"
	exit 99
fi
if ! grep -q '<abi-instr' "$current"; then
	echo "abi: SKIP: $lib has no debug info (build with -g, e.g." \
	     "-Dbuildtype=debugoptimized): no types to compare"
	exit 77
fi
soname=$(corpus_attr "$current" soname)
arch=$(corpus_attr "$current" architecture)
if [ -z "$soname" ]; then
	echo "abi: ERROR: $lib has no SONAME"
	exit 99
fi

if [ $update -eq 1 ]; then
	mkdir -p "$abi_dir" || exit 99
	baseline=$abi_dir/$soname.abi
	cp "$current" "$baseline" || exit 99
	for old in "$abi_dir"/*.abi; do
		[ "$old" = "$baseline" ] && continue
		rm -f "$old" && echo "removed the superseded baseline abi/${old##*/}"
	done
	echo "abi: UPDATED abi/$soname.abi from $lib ($arch): commit it with the release"
	exit 0
fi

# The baseline of this SONAME; after a soversion bump, the one of the
# previous SONAME, the only other one there.
baseline=$abi_dir/$soname.abi
if [ ! -f "$baseline" ]; then
	shopt -s nullglob
	others=("$abi_dir"/*.abi)
	shopt -u nullglob
	if [ ${#others[@]} -ne 1 ]; then
		echo "abi: ERROR: no baseline abi/$soname.abi, and ${#others[@]} others in abi/" \
		     "(run $0 --update at a release)"
		exit 99
	fi
	baseline=${others[0]}
fi
base_soname=$(corpus_attr "$baseline" soname)
base_arch=$(corpus_attr "$baseline" architecture)
if [ "$arch" != "$base_arch" ]; then
	echo "abi: SKIP: the baseline abi/${baseline##*/} is for $base_arch, $lib is $arch"
	exit 77
fi

supp=$abi_dir/juggle.abignore
abidiff_opts=(--no-default-suppression)
[ -f "$supp" ] && abidiff_opts+=(--suppressions "$supp")

echo "abidiff abi/${baseline##*/} ($base_soname) against $lib ($soname):"
abidiff "${abidiff_opts[@]}" "$baseline" "$current" >"$tmp/report" 2>&1
status=$?
cat "$tmp/report"
if [ $((status & 3)) -ne 0 ]; then
	echo "abi: ERROR: abidiff failed (exit status $status)"
	exit 99
fi
if [ "$soname" != "$base_soname" ]; then
	echo "abi: PASS: SONAME bumped $base_soname -> $soname: incompatible changes allowed" \
	     "(report above; abidiff exit status $status); the baseline must be regenerated" \
	     "for $soname at the release: $0 --update $lib $headers"
	exit 0
fi

if [ $status -eq 0 ]; then
	if grep -q 'filtered out' "$tmp/report"; then
		echo "abi: PASS: no ABI change but filtered ones, harmless to abidiff or" \
		     "allowed by abi/juggle.abignore (report above)"
	else
		echo "abi: PASS: ABI identical to the baseline abi/${baseline##*/}"
	fi
	exit 0
fi

# What is left without the additions.
abidiff "${abidiff_opts[@]}" --no-added-syms "$baseline" "$current" >/dev/null 2>&1
existing=$?
if [ $((existing & 3)) -ne 0 ]; then
	echo "abi: ERROR: abidiff --no-added-syms failed (exit status $existing)"
	exit 99
fi
if [ $((status & 8)) -ne 0 ] || [ $((existing & 4)) -ne 0 ]; then
	echo "abi: FAIL: incompatible ABI change against $base_soname (report above;" \
	     "abidiff exit status $status): undo it, or bump the soversion in meson.build"
	exit 1
fi
echo "abi: PASS: compatible ABI changes only, additions (report above;" \
     "abidiff exit status $status)"
exit 0
