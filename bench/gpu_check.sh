#!/usr/bin/env bash
# The GPU check: plan and run a budgeted job on whatever accelerator this machine has, and
# record what the plan expected against what happened. Needs no network and no hub: only this
# repository (installed, or importable from here) and a pack that
#     python bench/gpu_data.py pack --data ../shared/data/imdb --out PACK
# made elsewhere (token ids of an IMDb subset and the model in fp16, at most 64 MiB).
#
#     bash bench/gpu_check.sh PACK [BUDGET] [OUT]
#
# runs `hpo plan` and `hpo run --budget BUDGET` (default 5m) and writes
# OUT/<date>-<host>.gpu-check.json (default OUT: bench/results/): the plan's choices, the
# measured rates as samples per second, every trial's peak device memory, and each stage's
# planned against actual minutes. Extra `hpo` options go in HPO_CHECK_ARGS.
set -euo pipefail
pack=$(cd "${1:?usage: bench/gpu_check.sh PACK [BUDGET] [OUT]}" && pwd)
budget=${2:-5m}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
out=$(mkdir -p "${3:-$here/results}" && cd "${3:-$here/results}" && pwd)
python=${PYTHON:-python3}
work=$(mktemp -d "${TMPDIR:-/tmp}/hpo-gpu-check.XXXXXX")
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 HPO_CACHE="$work/cache"
export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"
cd "$work"

"$python" "$here/gpu_data.py" unpack "$pack" "$work"
# shellcheck disable=SC2206  # HPO_CHECK_ARGS is meant to split into options
args=(--data "$work/data" --model "$work/model" --budget "$budget" --study-name gpu-check
      --storage "sqlite:///$work/study.db" --set "data.cache_dir=$work/cache" ${HPO_CHECK_ARGS:-})
"$python" -m hpo.cli plan "${args[@]}" | tee "$work/plan.txt"
start=$("$python" -c "import time; print(time.time())")
"$python" -m hpo.cli run "${args[@]}" 2>&1 | tee "$work/run.log"
wall=$("$python" -c "import time; print(round(time.time() - $start, 1))")
"$python" "$here/gpu_data.py" summarize "$work/runs/gpu-check" \
    --storage "sqlite:///$work/study.db" --wall "$wall" --out "$out"
echo "gpu_check: the run's folder is $work"
