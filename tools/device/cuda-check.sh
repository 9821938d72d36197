#!/usr/bin/env bash
# Runs backend-cuda's GPU tests and the CUDA benchmarks on the GPU machine (the `device` tool).
# Prepare here:  ../shared/device/pack.sh; mvn -q -o package -DskipTests -pl samples -am;
#   copy the runtime jars (mvn dependency:copy-dependencies -pl samples -DincludeScope=runtime, Linux
#   natives only), the sdk-runtime tests jar, a jar of backend-cuda/target/test-classes and
#   junit-platform-console-standalone into .device/lib; carry ".device".
# There: bash tools/device/cuda-check.sh   (writes tessera.log and memory.log into $OUT)
source .device/prelude.sh
CP=$(ls .device/lib/*.jar | tr '\n' ':')
L=${OUT:-.}/tessera.log M=${OUT:-.}/memory.log
{ date -u; nvidia-smi -L; } >> "$L"
java -Dtessera.golden="$PWD/testdata/golden" -cp "$CP" org.junit.platform.console.ConsoleLauncher execute \
  --select-class dev.tessera.cuda.CudaConformanceTest --select-class dev.tessera.cuda.CudaHalfConformanceTest \
  --select-class dev.tessera.cuda.KernelsTest --select-class dev.tessera.cuda.CudaProviderTest \
  --details=summary --disable-banner --disable-ansi-colors 2>&1 | grep -E "relative|tests successful|tests failed|=>" >> "$L"
for p in fp16 fp32; do for m in gaugan ddpm; do
  echo "== tessera $m $p" >> "$L"
  java -cp "$CP" dev.tessera.samples.TesseraCli bench --backend cuda --precision $p --model $m --runs 30 --warmup 10 >> "$L" 2>&1
done; done
grep -v "^  " "$L"
