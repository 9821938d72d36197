#!/usr/bin/env bash
# The GPU checks of both backends in one device command: the GPU tests, then `tessera bench` per
# backend, precision and model with GPU pass times, summarized by gpu_medians.py. Prepare here with
# ../shared/device/pack.sh and tools/device/pack-jars.sh, carry ".device"; there:
#   bash tools/device/check.sh      (settings below as environment variables)
# Writes tessera.log (everything) and summary.txt into $OUT.
TESTS=${TESTS:-1}                       # 1: the GPU tests first
TEST_BACKENDS=${TEST_BACKENDS:-"cuda vulkan"} # whose GPU tests
BACKENDS=${BACKENDS-"cuda vulkan"}           # empty: tests only
PRECISIONS=${PRECISIONS:-"fp32 fp16"}
MODELS=${MODELS:-"gaugan ddpm"}
FRACTIONS=${FRACTIONS:-0.012,0.05,0.2}
RUNS=${RUNS:-30} WARMUP=${WARMUP:-10}
JAVA_OPTS=${JAVA_OPTS:-}                # e.g. -Dtessera.vulkan.parkedScratchMiB=0
BENCH_ARGS=${BENCH_ARGS:-}              # more bench options, e.g. "--drag 12"
LIB=${LIB:-.device/lib}                 # the jars: another folder runs another build, side by side
source .device/prelude.sh
CP=$(ls "$LIB"/*.jar | tr '\n' ':')
L=${OUT:-.}/tessera.log S=${OUT:-.}/summary.txt
{ date -u; nvidia-smi -L; echo "TESTS=$TESTS TEST_BACKENDS=$TEST_BACKENDS BACKENDS=$BACKENDS PRECISIONS=$PRECISIONS MODELS=$MODELS FRACTIONS=$FRACTIONS JAVA_OPTS=$JAVA_OPTS"; } | tee -a "$L" > "$S"
if [ "$TESTS" = 1 ]; then # one JVM per backend
  declare -A CLASSES=(
    [cuda]="cuda.CudaConformanceTest cuda.CudaHalfConformanceTest cuda.CudaLanesTest cuda.KernelsTest cuda.CudaProviderTest cuda.CudaSessionTest"
    [vulkan]="vulkan.VulkanConformanceTest vulkan.VulkanHalfConformanceTest vulkan.OpsTest vulkan.VulkanExecutorTest vulkan.VulkanProviderTest")
  for b in $TEST_BACKENDS; do
    classes=${CLASSES[$b]}
    java -Dtessera.golden="$PWD/testdata/golden" -cp "$CP" org.junit.platform.console.ConsoleLauncher execute \
      $(for c in $classes; do echo --select-class dev.tessera.$c; done) --details=tree --disable-banner --disable-ansi-colors >> "$L" 2>&1
  done
  grep -E "relative|tests successful|tests failed|✘|=> |fatal error" "$L" >> "$S"
fi
for b in $BACKENDS; do for p in $PRECISIONS; do for m in $MODELS; do
  echo "== $b $p $m" >> "$L"
  java $JAVA_OPTS -Dtessera.$b.passTimes=true -cp "$CP" dev.tessera.samples.TesseraCli bench --backend $b --precision $p \
    --model $m --fractions "$FRACTIONS" --runs "$RUNS" --warmup "$WARMUP" $BENCH_ARGS >> "$L" 2>&1
done; done; done
python3 tools/device/gpu_medians.py "$L" >> "$S"
grep -E "^== |^(gaugan|ddpm) (edit|drag)|dense: median|Exception|Error" "$L" >> "$S"
date -u >> "$S"
cat "$S"
