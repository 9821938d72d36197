package dev.tessera.runtime.cpu;

import dev.tessera.runtime.tensor.Tensor;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;

/** Native buffers for reuse, by capacity; {@link #take} returns the smallest that fits, else allocates. */
final class BufferPool {
    private final List<FloatBuffer> free = new ArrayList<>();

    FloatBuffer take(int floats) {
        FloatBuffer best = null;
        for (FloatBuffer b : free) {
            if (b.capacity() >= floats && (best == null || b.capacity() < best.capacity())) best = b;
        }
        if (best == null) return Tensor.allocateFloats(floats);
        free.remove(best);
        return best;
    }

    void give(FloatBuffer b) {
        free.add(b);
    }
}
