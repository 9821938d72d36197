// The statistics group_norm_parts and group_norm_stats take over a range of a group: the mean of
// x[base + begin, base + end) and the sum of squared deviations from it, over a workgroup of 256
// (two passes, so that float32 sums stay accurate). Included after the X binding and reduce.glsl.
vec2 meanAndSquares(uint base, uint begin, uint end) {
    float sum = 0.0;
    for (uint i = begin + gl_LocalInvocationIndex; i < end; i += 256u) sum += float(x[base + i]);
    float mean = end > begin ? workgroupSum(sum) / float(end - begin) : 0.0;
    float squares = 0.0;
    for (uint i = begin + gl_LocalInvocationIndex; i < end; i += 256u) {
        float d = float(x[base + i]) - mean;
        squares += d * d;
    }
    return vec2(mean, workgroupSum(squares));
}
