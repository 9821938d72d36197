// Sum and max of one float per invocation over a workgroup of 256, through shared memory (no
// subgroup operations, which not every device has). Every invocation gets the result.
shared float reduction[256];

float workgroupSum(float v) {
    uint i = gl_LocalInvocationIndex;
    reduction[i] = v;
    barrier();
    for (uint half_ = 128u; half_ > 0u; half_ >>= 1) {
        if (i < half_) reduction[i] += reduction[i + half_];
        barrier();
    }
    float total = reduction[0];
    barrier();
    return total;
}

float workgroupMax(float v) {
    uint i = gl_LocalInvocationIndex;
    reduction[i] = v;
    barrier();
    for (uint half_ = 128u; half_ > 0u; half_ >>= 1) {
        if (i < half_) reduction[i] = max(reduction[i], reduction[i + half_]);
        barrier();
    }
    float result = reduction[0];
    barrier();
    return result;
}
