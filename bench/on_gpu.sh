#!/usr/bin/env bash
# The device checks of one GPU loan in one command (about 8 minutes on one GPU): the CUDA-only
# tests, then bench/gpu.py on the GPU. Each writes its output to a file under $OUT (or here).
#
#   bash bench/on_gpu.sh
set -uo pipefail
out=${OUT:-.}
python -c "import torch; assert torch.cuda.is_available(), 'no CUDA device visible'" || exit 1
python -m pytest -q -p no:cacheprovider -m gpu tests/training/test_gpu.py 2>&1 | tee "$out/gpu-tests.txt"
timeout 480 python bench/gpu.py --device cuda 2>&1 | tee "$out/gpu-bench.txt"
