#!/bin/bash
# Copyright 2026 Huawei Technologies Co., Ltd
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
# http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
# ============================================================================
# The whole ECENet workflow on the built-in synthetic demo dataset:
# generate data -> MindRecord -> train (+ training curves) -> evaluate (+ plots) -> export MINDIR and ONNX
# (+ checks; the ONNX file evaluated in ONNX Runtime) -> prediction pictures (ONNX Runtime).
#
# Usage: bash scripts/run_demo.sh [--output DIR] [--device_target CPU|GPU|Ascend] [--quick]
#   --output DIR   where everything is written (default: demo_output)
#   --device_target DEV   device target (default: CPU)
#   --quick        a smoke run: fewer images and iterations (minutes less; accuracy not meaningful)
set -e

usage() {
    sed -n '/^# Usage:/,/^set -e/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

OUT="demo_output"
DEVICE="CPU"
QUICK=0
while [ $# -gt 0 ]; do
    case "$1" in
        --output) [ -n "$2" ] || { usage; exit 1; }; OUT="$2"; shift 2 ;;
        --device_target) [ -n "$2" ] || { usage; exit 1; }; DEVICE="$2"; shift 2 ;;
        --quick) QUICK=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "error: unknown option '$1'" >&2; usage; exit 1 ;;
    esac
done
case "$DEVICE" in CPU|GPU|Ascend) ;; *) echo "error: --device_target must be CPU, GPU or Ascend, got '$DEVICE'" >&2; exit 1 ;; esac

# shellcheck source=scripts/env.sh
source "$(dirname "$0")/env.sh"
cd "$PROJECT_ROOT"
OUT="$(realpath -m "$OUT")"
CONFIG="config/ecenet_demo.yaml"
if [ "$QUICK" = "1" ]; then
    NUM_TRAIN=32; NUM_VAL=8; ITERS=20; EVAL_EVERY=10
else
    NUM_TRAIN=200; NUM_VAL=40; ITERS=600; EVAL_EVERY=150
fi

STEP=""
report_failure() {
    local status=$?
    if [ "$status" -ne 0 ]; then echo "[demo] FAILED during: $STEP (exit $status)" >&2; fi
}
trap report_failure EXIT
step() { STEP="$1"; echo; echo "[demo] === $1"; }
START=$(date +%s)

step "1/6 generate the synthetic demo dataset"
rm -rf "$OUT/data"
python tools/make_demo_dataset.py "$OUT/data/demo" --num_train "$NUM_TRAIN" --num_val "$NUM_VAL"

step "2/6 convert it to MindRecord"
python tools/build_mindrecord.py --dataset demo --root "$OUT/data/demo" --split training \
    --output "$OUT/data/train.mindrecord"
python tools/build_mindrecord.py --dataset demo --root "$OUT/data/demo" --split validation \
    --output "$OUT/data/val.mindrecord"
rm -rf "$OUT/browse"
python tools/browse_dataset.py --config "$CONFIG" --data "$OUT/data/train.mindrecord" --output "$OUT/browse" --num 4 \
    > /dev/null

step "3/6 train ($ITERS iterations)"
rm -rf "$OUT/train"
DATA_ARGS=(--data.train_file "$OUT/data/train.mindrecord" --data.val_file "$OUT/data/val.mindrecord")
python train.py --config "$CONFIG" "${DATA_ARGS[@]}" --device_target "$DEVICE" \
    --train.max_iters "$ITERS" --train.eval_interval "$EVAL_EVERY" --train.output_dir "$OUT/train"
CKPT="$OUT/train/checkpoints/iter_${ITERS}.ckpt"
[ -f "$CKPT" ] || { echo "[demo] error: training wrote no $CKPT" >&2; exit 1; }
python tools/plot_training.py "$OUT/train" --output "$OUT/train/training_curves.png"

step "4/6 evaluate on the validation split"
python eval.py --config "$CONFIG" "${DATA_ARGS[@]}" --checkpoint "$CKPT" --device_target "$DEVICE" \
    --json "$OUT/eval/metrics.json" --save_pred "$OUT/eval/pred" --plots "$OUT/eval/plots"

step "5/6 export MINDIR and ONNX, check both against the checkpoint, evaluate the ONNX file"
mkdir -p "$OUT/export"
for FORMAT in MINDIR ONNX; do
    python export.py --config "$CONFIG" --checkpoint "$CKPT" --format "$FORMAT" --device_target "$DEVICE" \
        --output "$OUT/export/ecenet_demo" --verify
done
python eval.py --config "$CONFIG" "${DATA_ARGS[@]}" --onnx "$OUT/export/ecenet_demo.onnx" --device_target "$DEVICE" \
    --save_pred "$OUT/eval/pred_onnx" --no_progress > "$OUT/eval/onnx_eval.txt"
python - "$OUT/eval/pred" "$OUT/eval/pred_onnx" <<'PY'
import os, sys
import numpy as np
from PIL import Image
names = sorted(os.listdir(sys.argv[1]))
pairs = [(np.array(Image.open(os.path.join(sys.argv[1], n))), np.array(Image.open(os.path.join(sys.argv[2], n))))
         for n in names]
print(f"[demo] ONNX Runtime vs checkpoint predictions: {sum(int((a != b).sum()) for a, b in pairs)} of "
      f"{sum(a.size for a, _ in pairs)} pixels differ over {len(names)} images")
PY

step "6/6 prediction pictures for a few validation images (the ONNX file in ONNX Runtime)"
rm -rf "$OUT/pictures" "$OUT/infer_input"
mkdir -p "$OUT/infer_input"
find "$OUT/data/demo/images/validation" -name '*.jpg' | sort | head -n 4 | xargs -I{} cp {} "$OUT/infer_input/"
python infer.py --config "$CONFIG" --onnx "$OUT/export/ecenet_demo.onnx" --input "$OUT/infer_input" \
    --output "$OUT/pictures" --device_target "$DEVICE"

STEP=""
MIOU=$(python -c "import json,sys; print(json.load(open(sys.argv[1]))['summary_percent']['mIoU'])" \
    "$OUT/eval/metrics.json")
echo
echo "[demo] done in $(( $(date +%s) - START )) s; validation mIoU $MIOU %"
if [ "$QUICK" = "0" ] && python -c "import sys; sys.exit(float(sys.argv[1]) >= 80.0)" "$MIOU"; then
    echo "[demo] warning: mIoU $MIOU % is below the 80 % this demo reaches with its default settings" >&2
fi
echo "[demo] dataset      $OUT/data (MindRecord: train.mindrecord, val.mindrecord)"
echo "[demo] samples      $OUT/browse (training samples after augmentation, with their labels)"
echo "[demo] checkpoint   $CKPT"
echo "[demo] train log    $OUT/train/train.log (losses.jsonl, val_metrics.jsonl)"
echo "[demo] curves       $OUT/train/training_curves.png"
echo "[demo] metrics      $OUT/eval/metrics.json (predicted label PNGs: $OUT/eval/pred)"
echo "[demo] eval plots   $OUT/eval/plots (confusion_matrix.png, per_class_iou.png)"
echo "[demo] exported     $OUT/export/ecenet_demo.mindir, $OUT/export/ecenet_demo.onnx"
echo "[demo] pictures     $OUT/pictures (*_mask.png, *_overlay.png)"
