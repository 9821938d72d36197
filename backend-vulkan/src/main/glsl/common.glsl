// Included by every kernel. Maps are stored as T: float32, or float16 when compiled with -DF16
// (16-bit storage only: arithmetic is float32 in both). Per-channel parameters, norm affines and
// index maps are always 32-bit.
//
// Buffers: the host binds whole memory blocks and passes where each buffer starts in the block as
// a byte offset, p.at[binding], the first words of every kernel's push constants; ABSENT marks a
// buffer the caller left out (a null pointer in the CUDA kernels).
#ifdef F16
#extension GL_EXT_shader_16bit_storage : require
#define T float16_t
#define T_BYTES 2u
#else
#define T float
#define T_BYTES 4u
#endif

#define ABSENT 0xFFFFFFFFu
// First element of binding k: a map (T) or a 32-bit buffer.
#define FIRST_T(k) (p.at[k] / T_BYTES)
#define FIRST_32(k) (p.at[k] / 4u)

// Elementwise kernels: 256 invocations a workgroup, each a grid-stride loop over the elements.
#define GRID_STRIDE(i, total) \
    for (uint i = gl_GlobalInvocationID.x; i < (total); i += gl_NumWorkGroups.x * gl_WorkGroupSize.x)

const uint ACT_NONE = 0u, ACT_RELU = 1u, ACT_LEAKY_RELU = 2u, ACT_SILU = 3u, ACT_TANH = 4u;

float activate(float v, uint act, float slope) {
    switch (act) {
        case ACT_RELU: return max(v, 0.0);
        case ACT_LEAKY_RELU: return v > 0.0 ? v : v * slope;
        case ACT_SILU: return v / (1.0 + exp(-v));
        // 2 sigmoid(2v) - 1 as the CPU computes it: finite for every v (GLSL's tanh may overflow).
        case ACT_TANH: return 1.0 - 2.0 / (exp(2.0 * v) + 1.0);
        default: return v;
    }
}
