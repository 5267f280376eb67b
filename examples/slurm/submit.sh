#!/usr/bin/env bash
# Submits juggle-array.sbatch as an array of $SHARDS tasks and merge.sbatch
# to run after all of them succeeded; prints both job ids.
#   LIST=urls.txt OUT=/shared/books SHARDS=16 JUGGLE_ARGS="--mirror URL" ./submit.sh
# Environment (see juggle-array.sbatch): LIST (required), OUT [$PWD/juggle-out],
# SHARDS [4], JUGGLE [juggle], JUGGLE_ARGS, and
#   MAX_PARALLEL  at most this many tasks at once (sbatch --array=...%M)
#   SBATCH_ARGS   more sbatch options for both jobs: "--partition=short --time=1:00:00"
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

: "${LIST:?set LIST to the URL list}"
OUT=${OUT:-$PWD/juggle-out}
SHARDS=${SHARDS:-4}
JUGGLE=${JUGGLE:-juggle}
case $SHARDS in ''|*[!0-9]*|0) echo "submit.sh: SHARDS must be a positive number" >&2; exit 2 ;; esac
[ -r "$LIST" ] || { echo "submit.sh: cannot read LIST=$LIST" >&2; exit 2; }

# Tasks start in the submission directory of the node they land on: make
# every path absolute, and the binary too when it is given as a path.
mkdir -p "$OUT/logs"
LIST=$(realpath "$LIST")
OUT=$(realpath "$OUT")
case $JUGGLE in */*) JUGGLE=$(realpath "$JUGGLE") ;; esac
export LIST OUT SHARDS JUGGLE JUGGLE_ARGS=${JUGGLE_ARGS:-}
read -r -a sbatch_args <<<"${SBATCH_ARGS:-}"

# --parsable prints "JOBID" or "JOBID;CLUSTER".
array=$(sbatch --parsable --export=ALL --array="0-$((SHARDS - 1))${MAX_PARALLEL:+%$MAX_PARALLEL}" \
  --output="$OUT/logs/shard-%a.out" "${sbatch_args[@]}" "$here/juggle-array.sbatch")
array=${array%%;*}
# afterok: the merge runs only if every task exited 0. Without
# --kill-on-invalid-dep it would sit pending forever after a failed task.
merge=$(sbatch --parsable --export=ALL --dependency="afterok:$array" --kill-on-invalid-dep=yes \
  --output="$OUT/logs/merge.out" "${sbatch_args[@]}" "$here/merge.sbatch")
merge=${merge%%;*}

echo "array job $array: $SHARDS tasks into $OUT/shard-0 ... shard-$((SHARDS - 1))"
echo "merge job $merge: after job $array succeeds, into $OUT/counts.tsv and $OUT/report.json"
