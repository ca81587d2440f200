#!/usr/bin/env bash
# Turn a finished training run into the shipped default model, with the evidence the model card cites:
# evaluate the float32 best checkpoint on the test split, quantise it to int8 into
# classifier/models/default (refused below 99.5% verdict agreement), evaluate the int8 model in float32
# and in bf16 (what a CPU bot with native bf16 serves by default), evaluate it on the wild probe
# (scripts/collect_wild_probe.py: real images from outside the training sources) when there is one,
# and copy the plots and reports into docs/.
#
#   bash scripts/ship_model.sh runs/NAME [data/dataset]
set -euo pipefail
RUN=${1:?usage: scripts/ship_model.sh RUN_DIR [DATASET]}
DATA=${2:-data/dataset}
MODEL=classifier/models/default
M=${MEMEBOT:-.venv/bin/memebot}
WORKERS=${WORKERS:-1}
DOCS=docs/model

$M evaluate --checkpoint "$RUN/best" --data "$DATA" --split test --run "$RUN" --out "$RUN/eval" --device cpu \
    --workers "$WORKERS"
$M quantize --checkpoint "$RUN/best" --out "$MODEL" --check-data "$DATA" --split test --workers "$WORKERS"
$M evaluate --checkpoint "$MODEL" --data "$DATA" --split test --run "$RUN" --out "$RUN/eval-int8" --device cpu \
    --workers "$WORKERS"
$M evaluate --checkpoint "$MODEL" --data "$DATA" --split test --out "$RUN/eval-int8-bf16" --device cpu \
    --precision bf16 --workers "$WORKERS"
if [ -d data/wild ]; then
    $M evaluate --checkpoint "$MODEL" --data data/wild:test --split test --out "$RUN/eval-wild" --device cpu \
        --workers "$WORKERS"
fi

mkdir -p "$DOCS" docs/images/model
cp "$RUN"/eval-int8/*.png docs/images/model/
for name in eval eval-int8 eval-int8-bf16 eval-wild; do
    [ -d "$RUN/$name" ] || continue
    mkdir -p "$DOCS/$name"
    cp "$RUN/$name/metrics.json" "$RUN/$name/predictions.csv" "$DOCS/$name/"
    # The report's plots live in docs/images/model: point its links there.
    sed 's|](\([a-z]*\)\.png)|](../../images/model/\1.png)|g' "$RUN/$name/report.md" > "$DOCS/$name/report.md"
done
cp "$RUN/history.json" "$DOCS/history.json"
mv "$MODEL/quantize.json" "$DOCS/quantize.json"  # the evidence, not part of the checkpoint
ls -la "$MODEL" "$DOCS"
