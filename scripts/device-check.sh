#!/usr/bin/env bash
# Every CUDA path of batchmark, end to end, on one NVIDIA GPU, from a bare checkout: install what is missing, then
# `batchmark info`, `calibrate`, the quick suite on cuda, `tune` for ResNet50V2, its standard row with the tuned plan
# and the same at batch 256, and one HTML report. Results, report and a log go to OUTDIR.
#
# It stops itself before 8 minutes: every stage runs under `timeout`, never past a deadline for the whole script,
# and a stage that fails or runs out of time is one line in the log and on stderr; the stages after it still run
# where they can. Caches (the calibration, tuned plans, the history) start empty, in a folder of the check's own.
#
# Frameworks: one that already sees the GPU is kept as installed (its version is in the results); otherwise its
# CUDA build is installed at constraints.txt's version: PyTorch from its CUDA index, TensorFlow's [and-cuda],
# JAX's [cuda13], with Keras for the last two. A framework whose wheels do not install is left out of the suite.
# Offline (the workplace's GPU machine reaches no registry), `--wheels DIR` installs from wheels carried there.
set -uo pipefail

usage() {
    echo "usage: scripts/device-check.sh [--dry-run] [--wheels DIR] [--python PYTHON] [--deadline SECONDS] OUTDIR" >&2
    exit 2
}

DRY_RUN=0
WHEELS=""
PYTHON="${PYTHON:-python3}"
DEADLINE_SECONDS=470  # 7 min 50 s: under the 8 minutes, with time to write the summary
TORCH_INDEX="${TORCH_INDEX:-https://download.pytorch.org/whl/cu130}"
OUTDIR=""
while (($#)); do
    case "$1" in
        --dry-run) DRY_RUN=1 ;;
        --wheels) [[ $# -ge 2 ]] || usage; WHEELS="$2"; shift ;;
        --python) [[ $# -ge 2 ]] || usage; PYTHON="$2"; shift ;;
        --deadline) [[ $# -ge 2 && "$2" =~ ^[0-9]+$ ]] || usage; DEADLINE_SECONDS="$2"; shift ;;
        -h|--help) usage ;;
        -*) echo "device-check: unknown option $1" >&2; usage ;;
        *) [[ -z "$OUTDIR" ]] || usage; OUTDIR="$1" ;;
    esac
    shift
done
[[ -n "$OUTDIR" ]] || usage
OUTDIR=$(realpath -m -- "$OUTDIR")  # before the cd below: a relative OUTDIR is the caller's
cd "$(dirname "$0")/.." || exit 2  # the repository root: constraints.txt and the package to install
ROOT="$PWD"

constraint() {  # a package's pinned version in constraints.txt
    sed -n "s/^$1==//p" "$ROOT/constraints.txt" | head -n 1
}

WORK="${DEVICE_CHECK_WORK:-${TMPDIR:-/tmp}/batchmark-device-check}"  # venv and caches: not results, not in OUTDIR
VENV="$WORK/venv"
BM="$VENV/bin/batchmark"
PY="$VENV/bin/python"
PIP=("$PY" -m pip install --disable-pip-version-check --retries 1 --timeout 15 -c "$ROOT/constraints.txt")
[[ -n "$WHEELS" ]] && PIP+=(--no-index --find-links "$WHEELS")
export XDG_CACHE_HOME="$WORK/cache" XDG_DATA_HOME="$WORK/data" BATCHMARK_DB="$WORK/history.sqlite"
export PYTHONUNBUFFERED=1
START=$(date +%s)
LOG="$OUTDIR/device-check.log"

if ((DRY_RUN)); then
    LOG=/dev/null
else
    mkdir -p "$OUTDIR" || { echo "device-check: cannot create $OUTDIR" >&2; exit 2; }
    : >"$LOG"
fi

say() {  # one line, to stderr and the log
    echo "device-check: $*" >&2
    ((DRY_RUN)) || echo "device-check: $*" >>"$LOG"
}

left() { echo $((START + DEADLINE_SECONDS - $(date +%s))); }

# stage NAME SECONDS COMMAND...: the command under `timeout`, never past the deadline; one line says how it ended.
stage() {
    local name="$1" limit="$2"
    shift 2
    if ((DRY_RUN)); then
        printf 'timeout %s %s\n' "$limit" "$(printf '%q ' "$@")"
        return 0
    fi
    local remaining
    remaining=$(left)
    if ((remaining < 5)); then
        say "$name: skipped, the ${DEADLINE_SECONDS} s deadline is reached"
        return 124
    fi
    ((limit > remaining)) && limit=$remaining
    local began=$SECONDS
    echo "=== $name (at most ${limit} s): $*" >>"$LOG"
    timeout --kill-after=5 "$limit" "$@" >>"$LOG" 2>&1
    local status=$?
    if ((status == 0)); then
        say "$name: ok in $((SECONDS - began)) s"
    elif ((status == 124 || status == 137)); then
        say "$name: FAILED, stopped after ${limit} s (its time limit)"
    else
        say "$name: FAILED (exit $status) after $((SECONDS - began)) s: $(grep -v '^\s*$' "$LOG" | tail -n 1)"
    fi
    return $status
}

# The GPU first: without one, nothing is installed and the one line says why.
if ((DRY_RUN)); then
    echo "nvidia-smi -L"
elif ! command -v nvidia-smi >/dev/null; then
    say "no NVIDIA GPU: nvidia-smi is not installed (this check needs a Linux machine with an NVIDIA GPU and driver)"
    exit 3
elif ! nvidia-smi -L >>"$LOG" 2>&1 || ! grep -q '^GPU ' "$LOG"; then
    say "no NVIDIA GPU: nvidia-smi lists none ($(tail -n 1 "$LOG"))"
    exit 3
fi

# batchmark and its own dependencies. System packages are visible (a machine's preinstalled CUDA frameworks);
# what is missing is installed at constraints.txt's versions.
stage "venv" 60 "$PYTHON" -c "
import pathlib, site, subprocess, sys, venv
venv.create(sys.argv[1], system_site_packages=True, with_pip=True)
if sys.prefix != sys.base_prefix:  # a venv itself (the GPU machine's python holds its frameworks): see its packages
    purelib = subprocess.check_output([sys.argv[1] + '/bin/python', '-c',
                                       'import sysconfig; print(sysconfig.get_path(\"purelib\"))'], text=True).strip()
    pathlib.Path(purelib, 'outer-site.pth').write_text(''.join(path + chr(10) for path in site.getsitepackages()))
" "$VENV"
# Built with the setuptools installed here, not an isolated one fetched from an index (there may be none).
((DRY_RUN)) || ! "$PY" -c "import setuptools" 2>/dev/null || HAVE_SETUPTOOLS=1
((${HAVE_SETUPTOOLS:-0})) || stage "install setuptools" 60 "${PIP[@]}" "setuptools>=68"
stage "install batchmark" 120 "${PIP[@]}" --no-deps --no-build-isolation -e "$ROOT"
stage "install batchmark's dependencies" 150 bash -c "$(printf '%q ' "$PY") - <<'EOF' | xargs -r $(printf '%q ' "${PIP[@]}")
from importlib.metadata import PackageNotFoundError, requires, version
import re
for requirement in requires('batchmark'):
    if 'extra ==' in requirement:
        continue
    name = re.split(r'[<>=!~ ;\[]', requirement, maxsplit=1)[0]
    try:
        version(name)
    except PackageNotFoundError:
        print(name)
EOF"
# NVML (energy, clocks, throttle reasons): batchmark's [nvml] extra, unless the machine has it already.
((DRY_RUN)) || ! "$PY" -c "import pynvml" 2>/dev/null || HAVE_NVML=1
((${HAVE_NVML:-0})) || stage "install nvml" 60 "${PIP[@]}" "nvidia-ml-py==$(constraint nvidia-ml-py)"

# probe FRAMEWORK: does it import here and see the GPU (with Keras, for the two that run our Keras models)?
probe() {
    case "$1" in
        torch) "$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.__version__)" ;;
        tensorflow) "$PY" -c "import tensorflow as tf, keras; assert tf.config.list_physical_devices('GPU'), 'no GPU'; print(tf.__version__)" ;;
        jax) "$PY" -c "import jax, keras; assert jax.devices()[0].platform == 'gpu', 'no GPU'; print(jax.__version__)" ;;
    esac
}

install_framework() {
    case "$1" in
        torch) local index=(--index-url "$TORCH_INDEX")
               [[ -n "$WHEELS" ]] && index=()
               stage "install torch (CUDA)" 240 "${PIP[@]}" "${index[@]}" "torch==$(constraint torch)" ;;
        tensorflow) stage "install tensorflow (CUDA)" 180 "${PIP[@]}" "tensorflow[and-cuda]==$(constraint tensorflow)" \
                        "keras==$(constraint keras)" ;;
        jax) stage "install jax (CUDA)" 150 "${PIP[@]}" "jax[cuda13]==$(constraint jax)" "jaxlib==$(constraint jaxlib)" \
                 "keras==$(constraint keras)" ;;
    esac
}

FRAMEWORKS=()
for framework in torch tensorflow jax; do
    if ((DRY_RUN)); then
        install_framework "$framework"
        FRAMEWORKS+=("$framework")
        continue
    fi
    if found=$(probe "$framework" 2>/dev/null); then
        say "$framework $found sees the GPU: kept as installed (constraints.txt pins $(constraint "$framework"))"
    elif install_framework "$framework" && found=$(probe "$framework" 2>>"$LOG"); then
        say "$framework $found installed and sees the GPU"
    else
        say "$framework: left out of the suite (its CUDA build did not install, or does not see the GPU)"
        continue
    fi
    FRAMEWORKS+=("$framework")
done
if ((${#FRAMEWORKS[@]} == 0)); then
    say "FAILED: no framework sees the GPU; nothing to measure"
    exit 1
fi
ALL=$(IFS=,; echo "${FRAMEWORKS[*]}")

# The measurements. Each run has a --budget inside its stage's limit, so that it ends with what it measured (rows it
# could not afford are named) rather than being killed.
stage "info" 30 "$BM" info
stage "calibrate" 60 "$BM" calibrate --framework torch
stage "quick suite on cuda" 150 "$BM" run --quick --device cuda --framework "$ALL" --budget 140s --no-report \
    --output "$OUTDIR/quick.json"
stage "tune resnet50v2_finetune" 80 "$BM" tune resnet50v2_finetune --framework torch --budget 70s
stage "resnet50v2_finetune, tuned plan" 60 "$BM" run resnet50v2_finetune --framework torch --device cuda \
    --plan tuned --budget 50s --no-report --output "$OUTDIR/resnet50v2.json"
stage "resnet50v2_finetune at batch 256" 60 "$BM" run resnet50v2_finetune --framework torch --device cuda \
    --plan tuned --batch-size 256 --budget 50s --no-report --output "$OUTDIR/resnet50v2-b256.json"

# One report of every run that wrote its results, from the check's own history.
if ((DRY_RUN)); then
    RUNS=("RUN_ID...")
else
    mapfile -t RUNS < <(for file in quick resnet50v2 resnet50v2-b256; do
        [[ -f "$OUTDIR/$file.json" ]] && "$PY" -c "import json, sys; print(json.load(open(sys.argv[1]))['run_id'])" \
            "$OUTDIR/$file.json"
    done)
fi
if ((${#RUNS[@]})); then
    stage "report" 30 "$BM" report "${RUNS[@]}" --output "$OUTDIR/report.html" --title "batchmark device check"
fi
((DRY_RUN)) || say "done in $(($(date +%s) - START)) s; results, report and log in $OUTDIR"
