#!/usr/bin/env bash
# Rebuilds the SPIR-V kernels shipped in the jar (src/main/resources/dev/tessera/vulkan/shaders/)
# from the GLSL in src/main/glsl with shaderc through LWJGL (ShaderCompiler, a test-scope tool):
# each kernel twice, NAME_f32.spv and NAME_f16.spv (-DF16: maps stored as float16), except those
# that define F16 themselves. Needs only Maven and a JDK. The Maven build does not run it, so the
# project builds without a shader compiler; ShadersTest fails when the GLSL changed since the last
# run (sources.sha256). Run it after changing a shader and commit the results.
set -euo pipefail
cd "$(dirname "$0")"
mvn -q -pl . test-compile dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/shaderc.classpath
java -cp "target/test-classes:target/classes:$(cat target/shaderc.classpath)" dev.tessera.vulkan.ShaderCompiler \
  src/main/glsl src/main/resources/dev/tessera/vulkan/shaders
ls src/main/resources/dev/tessera/vulkan/shaders
