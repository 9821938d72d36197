#!/usr/bin/env bash
# Fills .device/lib with what the GPU checks run: the samples' runtime jars (Linux x86-64 natives
# only, and no OpenBLAS natives, 20 MiB that would break the 64 MiB the device tool carries: the
# OpsTest comparisons with the CPU backend fail there by setup), the GPU test classes, and JUnit's
# console launcher. Run here from the project root after ../shared/device/pack.sh; then carry
# ".device" and run tools/device/check.sh there.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
lib=.device/lib
rm -rf "$lib" && mkdir -p "$lib"
mvn -q install -DskipTests
mvn -q test-compile -pl backend-cuda,backend-vulkan
mvn -q dependency:copy-dependencies -pl samples -DincludeScope=runtime -DoutputDirectory="$PWD/$lib"
mvn -q dependency:copy -Dartifact=org.junit.platform:junit-platform-console-standalone:1.14.4 \
  -DoutputDirectory="$PWD/$lib"
(cd "$lib" && ls | grep -E -- '-(windows|macos|macosx|android|linux-arm64|natives-macos|natives-windows|natives-linux-arm64)[^/]*\.jar$' | xargs -r rm)
rm -f "$lib"/openblas-*-linux-x86_64.jar
cp samples/target/samples-*-SNAPSHOT.jar sdk-runtime/target/sdk-runtime-*-tests.jar "$lib"
for m in backend-cuda backend-vulkan; do
  (cd "$m/target/test-classes" && jar cf "../../../$lib/$m-tests.jar" .)
done
du -sh .device "$lib"
