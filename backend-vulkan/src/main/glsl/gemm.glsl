// The tiled matrix product of conv2d and matmul: a workgroup of 256 invocations computes a
// TILE x TILE block of C = A B, staging A and B through shared memory TILE_K rows of K at a time.
// Invocation (tx, ty) = (index % 16, index / 16) owns rows ty + 16 i and columns tx + 16 j
// (i, j < 4), so neighbours read neighbouring shared words and write neighbouring columns.
const uint TILE = 64u, TILE_K = 16u;
shared float stagedA[TILE_K][TILE]; // [k][row of C]
shared float stagedB[TILE_K][TILE]; // [k][column of C]
float acc[4][4];

void clearAccumulators() {
    for (uint i = 0u; i < 4u; i++) for (uint j = 0u; j < 4u; j++) acc[i][j] = 0.0;
}

// acc += the staged A and B; call between barriers.
void multiplyStaged() {
    uint tx = gl_LocalInvocationIndex % 16u, ty = gl_LocalInvocationIndex / 16u;
    for (uint k = 0u; k < TILE_K; k++) {
        float a[4], b[4];
        for (uint i = 0u; i < 4u; i++) a[i] = stagedA[k][ty + 16u * i];
        for (uint j = 0u; j < 4u; j++) b[j] = stagedB[k][tx + 16u * j];
        for (uint i = 0u; i < 4u; i++) for (uint j = 0u; j < 4u; j++) acc[i][j] += a[i] * b[j];
    }
}
