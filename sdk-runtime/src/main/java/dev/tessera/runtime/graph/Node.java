package dev.tessera.runtime.graph;

import java.util.List;
import java.util.stream.Collectors;

/** One op applied to earlier values; {@code name} is the PyTorch module path it stands for. */
public record Node(String name, Op op, List<Value> inputs, Value output) {
    public long macs() {
        return op.macs(inputs.stream().map(Value::shape).collect(Collectors.toList()));
    }
}
