package dev.tessera.runtime.backend;

import dev.tessera.InvalidInputException;
import dev.tessera.NoFullPassException;
import dev.tessera.runtime.graph.ModelGraph;
import dev.tessera.runtime.graph.Value;
import dev.tessera.runtime.sparse.ActivationCache;
import dev.tessera.runtime.sparse.SparsePlanner;
import dev.tessera.runtime.tensor.Shape;
import dev.tessera.runtime.tensor.Ranges;
import dev.tessera.runtime.tensor.Tensor;
import java.nio.FloatBuffer;
import java.util.List;

/** The checks every backend makes on the inputs of a pass, with the same messages everywhere. */
public final class Inputs {
    private Inputs() {}

    /**
     * @throws InvalidInputException if the count or a shape differs from the graph's inputs, or an
     *     input holds NaN or Inf
     */
    public static void checkDense(ModelGraph graph, Tensor[] inputs) {
        List<Value> declared = graph.inputs();
        if (inputs.length != declared.size()) {
            throw new InvalidInputException(graph.name() + " takes " + declared.size() + " inputs, got " + inputs.length);
        }
        for (int i = 0; i < inputs.length; i++) {
            Shape expected = declared.get(i).shape();
            if (!inputs[i].shape().equals(expected)) {
                throw new InvalidInputException(graph.name() + " input " + i + " has shape " + inputs[i].shape()
                        + ", expected " + expected);
            }
            requireFinite(inputs[i], graph.name() + " input " + i);
        }
    }

    /**
     * The checks of a sparse pass: a full pass is cached, the inputs fit the graph, and inputs that
     * edits may not change equal the cached ones (the full pass caches them in host memory).
     */
    public static void checkSparse(SparsePlanner planner, ActivationCache cache, Tensor[] inputs) {
        ModelGraph graph = planner.graph();
        List<Value> declared = graph.inputs();
        if (!cache.contains(graph.output().id())) {
            throw new NoFullPassException("a sparse pass needs the cache of a full pass on the original; run full() first");
        }
        if (inputs.length != declared.size()) {
            throw new InvalidInputException(graph.name() + " takes " + declared.size() + " inputs, got " + inputs.length);
        }
        for (int i = 0; i < inputs.length; i++) {
            Shape expected = declared.get(i).shape();
            if (!inputs[i].shape().equals(expected)) {
                throw new InvalidInputException("edited input " + i + " has shape " + inputs[i].shape() + ", expected "
                        + expected + " as in the full pass");
            }
            requireFinite(inputs[i], "edited input " + i);
            if (!planner.changed(declared.get(i)) && !sameAs(cache.map(declared.get(i).id()), inputs[i])) {
                throw new InvalidInputException("input " + i + " differs from the full pass's, but edits may not change it;"
                        + " run a full pass for new values of input " + i);
            }
        }
    }

    public static void requireFinite(Tensor t, String what) {
        FloatBuffer d = t.data();
        int n = t.size();
        // On all cores: a one-hot label map is millions of floats, and its scan took longer than a GPU pass.
        Ranges r = Ranges.of(n, 1 << 16, 1);
        if (r.indices().allMatch(c -> finite(d, (int) r.start(c), (int) r.end(c)))) return;
        for (int i = 0; i < n; i++) {
            if (!Float.isFinite(d.get(i))) {
                throw new InvalidInputException(what + " holds " + d.get(i) + " at flat index " + i + "; inputs must be finite");
            }
        }
    }

    private static boolean finite(FloatBuffer d, int from, int to) {
        for (int i = from; i < to; i++) if (!Float.isFinite(d.get(i))) return false;
        return true;
    }

    private static boolean sameAs(ActivationCache.Map32 cached, Tensor t) {
        for (int i = 0; i < t.size(); i++) if (Float.floatToIntBits(cached.get(i)) != Float.floatToIntBits(t.get(i))) return false;
        return true;
    }
}
