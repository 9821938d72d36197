// The tiled matrix product of conv2d: a workgroup of THREADS invocations computes a
// BLOCK_M x BLOCK_N block of C = A B, staging A and B through shared memory TILE_K rows of K at a
// time; each chunk is loaded into registers while the previous one is multiplied. The invocations
// form a THREADS_M x THREADS_N grid; each owns ROWS x COLS outputs, in groups of four rows and four
// columns spread THREADS_M (THREADS_N) groups apart, so that its shared-memory reads are vec4s and
// a warp's reads and writes are contiguous. The block shape is chosen per product by
// specialization constants (see Kernel.GemmShape). The including shader defines how a chunk is
// loaded (loadChunk) and where each loaded element belongs (aElement, bElement).
layout(constant_id = 0) const uint THREADS_M = 16u;
layout(constant_id = 1) const uint ROWS = 8u;   // per invocation, a multiple of 4
layout(constant_id = 2) const uint COLS = 8u;   // per invocation, a multiple of 4
const uint THREADS = gl_WorkGroupSize.x;  // specialization constant 3 (the including shader's local_size_x_id)
const uint THREADS_N = THREADS / THREADS_M;
const uint BLOCK_M = THREADS_M * ROWS, BLOCK_N = THREADS_N * COLS, TILE_K = 16u;
// Elements of A's and of B's chunk that one invocation loads.
const uint A_LOADS = BLOCK_M * TILE_K / THREADS, B_LOADS = BLOCK_N * TILE_K / THREADS;

// [k][rows (columns) of C / 4], each k row padded by one vec4: loads along K then land in
// different banks instead of all in one.
shared vec4 stagedA[TILE_K][BLOCK_M / 4u + 1u];
shared vec4 stagedB[TILE_K][BLOCK_N / 4u + 1u];
vec4 acc[ROWS][COLS / 4u];                 // acc[4 r + i][c] = rows (r THREADS_M + tm) 4 + i, columns (c THREADS_N + tn) 4 + 0..3
float loadedA[A_LOADS], loadedB[B_LOADS];  // the next chunk, on its way from global memory

// Loads this invocation's elements of the chunk at k0 into loadedA and loadedB (0 outside the matrices).
void loadChunk(uint k0);
// Where loadedA[i] belongs in A's chunk: (row of the block, k of the chunk).
uvec2 aElement(uint i);
// Where loadedB[i] belongs in B's chunk: (column of the block, k of the chunk).
uvec2 bElement(uint i);

uint threadM() { return gl_LocalInvocationIndex / THREADS_N; }
uint threadN() { return gl_LocalInvocationIndex % THREADS_N; }

// Row of C that accumulator row i (< ROWS) holds, relative to the block.
uint accRow(uint i) { return ((i / 4u) * THREADS_M + threadM()) * 4u + i % 4u; }

// First of the four columns that accumulator column group c (< COLS / 4) holds, relative to the block.
uint accColumn(uint c) { return (c * THREADS_N + threadN()) * 4u; }

void clearAccumulators() {
    [[unroll]] for (uint i = 0u; i < ROWS; i++) [[unroll]] for (uint c = 0u; c < COLS / 4u; c++) acc[i][c] = vec4(0.0);
}

void stageLoaded() {
    [[unroll]] for (uint i = 0u; i < A_LOADS; i++) {
        uvec2 e = aElement(i);
        stagedA[e.y][e.x / 4u][e.x % 4u] = loadedA[i];
    }
    [[unroll]] for (uint i = 0u; i < B_LOADS; i++) {
        uvec2 e = bElement(i);
        stagedB[e.y][e.x / 4u][e.x % 4u] = loadedB[i];
    }
}

// acc += the staged chunks; call between barriers.
void multiplyStaged() {
    uint tm = threadM(), tn = threadN();
    [[unroll]] for (uint k = 0u; k < TILE_K; k++) {
        vec4 b[COLS / 4u];
        [[unroll]] for (uint c = 0u; c < COLS / 4u; c++) b[c] = stagedB[k][c * THREADS_N + tn];
        [[unroll]] for (uint r = 0u; r < ROWS / 4u; r++) {
            vec4 a = stagedA[k][r * THREADS_M + tm];
            [[unroll]] for (uint c = 0u; c < COLS / 4u; c++) {
                acc[4u * r][c] += a.x * b[c];
                acc[4u * r + 1u][c] += a.y * b[c];
                acc[4u * r + 2u][c] += a.z * b[c];
                acc[4u * r + 3u][c] += a.w * b[c];
            }
        }
    }
}

// acc = the block's A B over K = kSize.
void multiply(uint kSize) {
    clearAccumulators();
    loadChunk(0u);
    for (uint k0 = 0u; k0 < kSize; k0 += TILE_K) {
        stageLoaded();
        barrier();
        if (k0 + TILE_K < kSize) loadChunk(k0 + TILE_K);
        multiplyStaged();
        barrier();
    }
}
