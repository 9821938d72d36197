package dev.tessera.runtime.graph;

import dev.tessera.runtime.tensor.Shape;

/** A tensor flowing through a graph: produced once (by an input or a node), read by later nodes. */
public record Value(int id, Shape shape) {}
