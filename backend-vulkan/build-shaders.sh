#!/usr/bin/env bash
# Rebuilds the SPIR-V kernels shipped in the jar (src/main/resources/dev/tessera/vulkan/shaders/)
# from the GLSL in src/main/glsl: each kernel twice, NAME_f32.spv and NAME_f16.spv (-DF16: maps
# stored as float16), except the float16 conversions, which define F16 themselves. Needs
# glslangValidator (Debian/Ubuntu: apt-get install glslang-tools). The Maven build does not run
# it, so the project builds without a shader compiler; ShadersTest fails when the GLSL changed
# since the last run (sources.sha256). Run it after changing a shader and commit the results.
set -euo pipefail
cd "$(dirname "$0")"
src=src/main/glsl
out=src/main/resources/dev/tessera/vulkan/shaders
rm -f "$out"/*.spv
# glslangValidator reports errors on stdout: show them only when it fails.
compile() { local log; log=$(glslangValidator -V --target-env vulkan1.1 -I"$src" "$@") || { echo "$log" >&2; return 1; }; }
for shader in "$src"/*.comp; do
  name=$(basename "$shader" .comp)
  if grep -q '^#define F16' "$shader"; then
    compile -o "$out/$name.spv" "$shader"
  else
    compile -o "$out/${name}_f32.spv" "$shader"
    compile -DF16 -o "$out/${name}_f16.spv" "$shader"
  fi
done
(cd "$src" && sha256sum -- *.comp *.glsl) > "$out/sources.sha256"
ls "$out"
