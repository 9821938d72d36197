package dev.tessera.runtime.graph;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * A model in dense form: inputs, nodes in execution order, one output. Built once per model and
 * input size; backends run it densely and the sparse planner rewrites it.
 */
public record ModelGraph(String name, List<Value> inputs, List<Node> nodes, Value output) {
    public ModelGraph {
        inputs = Collections.unmodifiableList(new ArrayList<>(inputs));
        nodes = Collections.unmodifiableList(new ArrayList<>(nodes));
    }

    /** Number of values, i.e. one past the largest value id. */
    public int valueCount() {
        return inputs.size() + nodes.size();
    }

    /** The value with this id (an input or a node output). */
    public Value valueById(int id) {
        for (Value v : inputs) if (v.id() == id) return v;
        for (Node n : nodes) if (n.output().id() == id) return n.output();
        throw new IllegalArgumentException("no value " + id + " in " + name);
    }

    /** Multiply-accumulates of one dense evaluation. */
    public long macs() {
        long total = 0;
        for (Node n : nodes) total += n.macs();
        return total;
    }
}
