#!/usr/bin/env bash
# Rebuilds the CUDA kernels shipped in the jar (src/main/resources/dev/tessera/cuda/tessera_kernels.fatbin)
# from src/main/cuda/tessera_kernels.cu. Needs nvcc (CUDA 12.8 or later); the Maven build does not
# run it, so the project builds and tests on machines without CUDA. Run it after changing the .cu
# file and commit both.
set -euo pipefail
cd "$(dirname "$0")"
nvcc -O3 -fatbin -Xfatbin -compress-all \
  -gencode arch=compute_80,code=sm_80 \
  -gencode arch=compute_86,code=sm_86 \
  -gencode arch=compute_89,code=sm_89 \
  -gencode arch=compute_90,code=sm_90 \
  -gencode arch=compute_90,code=compute_90 \
  -o src/main/resources/dev/tessera/cuda/tessera_kernels.fatbin src/main/cuda/tessera_kernels.cu
ls -l src/main/resources/dev/tessera/cuda/tessera_kernels.fatbin
