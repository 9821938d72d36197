package dev.tessera.runtime.io;

import dev.tessera.InvalidWeightsException;
import dev.tessera.runtime.tensor.Shape;
import dev.tessera.runtime.tensor.Tensor;

/** Where a model builder takes its parameters from, by PyTorch state-dict key. */
public interface WeightSource {
    /**
     * The float32 tensor stored under {@code key}, which must have exactly the {@code expected} shape.
     *
     * @throws InvalidWeightsException if the key is missing, the shape differs, or a value is NaN or
     *     infinite; the message names the source, the key and the problem
     */
    Tensor tensor(String key, Shape expected);
}
