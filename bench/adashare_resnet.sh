#!/usr/bin/env bash
# AdaShare in a setting like its paper's: ResNet-18 (8 blocks) on `scenes`, beside TPE searching
# the same select-or-skip space; each study trains hard sharing and the independent networks
# itself and ends with the 5-seed confirm on the test split (docs/adashare.md has the results).
#
#   bash bench/adashare_resnet.sh [OUT_DIR]
#
# Two processes per study share its runs (the second is `mtlnas worker`); the AdaShare policy is
# learned once, under the artifact store's lock, and loaded by the other process. Every study is
# resumable: run the script again with the same OUT_DIR and the studies continue where they
# stopped. Sizes through the environment: EPOCHS (10), ITERS (3000 policy iterations),
# TPE_TRIALS (14), LIMIT (seconds before the studies are stopped with SIGTERM; 0: none),
# DEVICE (auto), SIZE (small).
set -uo pipefail
out=${1:-resnet-adashare}
mkdir -p "$out"
epochs=${EPOCHS:-10}
iters=${ITERS:-3000}
tpe_trials=${TPE_TRIALS:-14}
limit=${LIMIT:-0}
device=${DEVICE:-auto}
size=${SIZE:-small}
art=${ARTIFACTS:-$out/artifacts}
run=(python3 -m nas.app.cli)
[ "$limit" -gt 0 ] && run=(timeout -s TERM "$limit" python3 -m nas.app.cli)
common=(--benchmark scenes --size "$size" --backbone resnet18 --backbone-option width=0.25
        --backbone-option output_stride=8 --space adashare --batch-size 16 --epochs "$epochs"
        --device "$device" --quiet)

"${run[@]}" search --name resnet-adashare --storage "sqlite:///$out/adashare.db" \
    --artifacts "$art/adashare" "${common[@]}" --strategy adashare \
    --strategy-option "iterations=$iters" --n-trials 10 >"$out/adashare.log" 2>&1 &
"${run[@]}" search --name resnet-tpe --storage "sqlite:///$out/tpe.db" \
    --artifacts "$art/tpe" "${common[@]}" --n-trials "$tpe_trials" >"$out/tpe.log" 2>&1 &
sleep 30  # the studies exist (and their baselines are queued) before a worker joins
"${run[@]}" worker resnet-adashare --storage "sqlite:///$out/adashare.db" \
    --artifacts "$art/adashare" --device "$device" --quiet >>"$out/adashare.log" 2>&1 &
"${run[@]}" worker resnet-tpe --storage "sqlite:///$out/tpe.db" \
    --artifacts "$art/tpe" --device "$device" --quiet >>"$out/tpe.log" 2>&1 &
wait
for s in adashare tpe; do
    python3 -m nas.app.cli show "resnet-$s" --storage "sqlite:///$out/$s.db" --artifacts "$art/$s"
done >"$out/show.txt" 2>&1
cat "$out/show.txt"
