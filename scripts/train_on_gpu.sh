#!/usr/bin/env bash
# Train, evaluate and quantise the meme model in ONE call on a GPU machine, leaving in $OUT what must
# come back (at most 8 files of 16 MiB): the int8 checkpoint in 15 MiB parts, its model.json, the
# training log and the reports. The machine has python3 with torch, torchvision, numpy, Pillow,
# safetensors and matplotlib, but not the bot's own dependencies, so the commands run as
# `python3 -m classifier.training.commands`. Its state is lost when the call ends: everything happens here.
#
#   bash scripts/train_on_gpu.sh            (through the device tool, carrying data/pack)
#
# Settings (environment): PACK (data/pack/dataset.tar), EPOCHS (40), TIME_LIMIT (seconds of training,
# 380: the call has 600 s in all), DEVICE (cuda), WORKERS (14), TRAIN_ARGS (extra `train` options).
# Back here: cat model.safetensors.part-* > classifier/models/default/model.safetensors, and copy
# model.json beside it (docs/model.md has the rest).
set -euo pipefail
export PYTHONUNBUFFERED=1
: "${OUT:?OUT is the folder the device tool brings back}"
PACK=${PACK:-data/pack/dataset.tar}
EPOCHS=${EPOCHS:-40}
TIME_LIMIT=${TIME_LIMIT:-380}
DEVICE=${DEVICE:-cuda}
WORKERS=${WORKERS:-14}
WORK=${WORK:-/tmp/memebot}
M="python3 -m classifier.training.commands"

python3 -c "from PIL import features; assert features.check('webp'), 'no WebP in Pillow: pack with --format jpeg'"
nvidia-smi -L 2>/dev/null || true
rm -rf "$WORK" && mkdir -p "$WORK"

# shellcheck disable=SC2086  # TRAIN_ARGS is a list of options
$M train --data "$PACK" --out "$WORK/run" --epochs "$EPOCHS" --batch-size 128 --lr 2e-3 --warmup-epochs 2 \
    --device "$DEVICE" --workers "$WORKERS" --time-limit "$TIME_LIMIT" ${TRAIN_ARGS:-} 2>&1 | tee "$OUT/train.log"
$M evaluate --checkpoint "$WORK/run/best" --data "$PACK" --split test --run "$WORK/run" --out "$WORK/eval" \
    --device "$DEVICE" --workers "$WORKERS" | tee -a "$OUT/train.log"
# Agreement measured on the CPU in float32, where most bots run the shipped model; exit 1 = below 99.5%.
$M quantize --checkpoint "$WORK/run/best" --out "$WORK/int8" --check-data "$PACK" --split test \
    --device cpu --workers "$WORKERS" 2>&1 | tee -a "$OUT/train.log" || true
$M evaluate --checkpoint "$WORK/int8" --data "$PACK" --split test --out "$WORK/eval-int8" \
    --device "$DEVICE" --workers "$WORKERS" | tee -a "$OUT/train.log"

split -b 15m -d "$WORK/int8/model.safetensors" "$OUT/model.safetensors.part-"
cp "$WORK/int8/model.json" "$OUT/model.json"
tar czf "$OUT/reports.tgz" -C "$WORK" eval eval-int8 int8/quantize.json run/history.json run/best/model.json
ls -la "$OUT"
