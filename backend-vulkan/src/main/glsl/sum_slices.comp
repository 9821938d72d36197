#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"
// Finishes a convolution split along K (conv.glsl): y = act(sum of the slices' partial sums + bias).
// Bound and launched with the convolution's own buffers and parameters.
layout(local_size_x = 256) in;
#include "conv.glsl"

void main() {
    uint pixels = pixelCount(), slicePlane = p.outC * pixels;
    GRID_STRIDE(i, slicePlane) {
        float sum = 0.0;
        for (uint s = 0u; s < p.slices; s++) sum += partial[FIRST_32(4) + s * slicePlane + i];
        storeResult(i / pixels, i % pixels, sum);
    }
}
