#!/usr/bin/env bash
# The srgan-x4 v2 pilots (issue 13): one change each from configs/experiments/v2_pilot_base.yaml,
# trained on one thread, then scored on Set14. Re-running skips finished pilots and resumes a cut one.
# P1 (loss.antialias) is gone: the option was removed after its pilot.
#   CODE=/path/to/a/checkout/src RUNS=/work/runs/pilots bash scripts/experiments/v2_pilots.sh [NAME ...]
set -uo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-runs/pilots}
PY=${PY:-.venv/bin/python}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} PYTHONPATH=${CODE:-src}
declare -A PILOT=(
  [P0_base]=""
  [P2_sn_nobn]="discriminator.spectral_norm=true discriminator.batch_norm=false"
  [P3_ragan]="loss.adversarial=ragan"
  [P4_unet_ragan]="discriminator.arch=unet loss.adversarial=ragan"
  [P5_artifact1]="loss.artifact_weight=1.0"
  [P6_fm0.05]="loss.feature_matching_weight=0.05"
  [P7_no_ema]="train.ema_decay=0"
  [P8_adv5e-4]="loss.adversarial_weight=5e-4"
)
ORDER=(P0_base P3_ragan P2_sn_nobn P5_artifact1 P4_unet_ragan P6_fm0.05 P7_no_ema P8_adv5e-4)
[ $# -gt 0 ] && ORDER=("$@")
for name in "${ORDER[@]}"; do
  dir=$RUNS/$name
  if [ ! -f "$dir/generator.safetensors" ]; then
    # shellcheck disable=SC2086
    $PY -m srgan train --config configs/experiments/v2_pilot_base.yaml run.run_dir="$dir" ${PILOT[$name]} \
      > "$RUNS/$name.train.log" 2>&1 || { echo "$name: training failed (see $RUNS/$name.train.log)"; continue; }
  fi
  [ -f "$dir/set14.json" ] || $PY -m srgan eval --model "$dir/generator.safetensors" --scale 4 \
      --data ../shared/data/benchmark/Set14 --json "$dir/set14.json" > "$RUNS/$name.eval.log" 2>&1
  echo "$name: $(grep -A1 "^dataset" "$RUNS/$name.eval.log" | tail -n 1)"
done
