package dev.tessera.runtime.sparse;

import java.util.Collections;
import java.util.HashSet;
import java.util.Set;

/**
 * Which convolutions of a graph the planner makes sparse, and with which blocks.
 *
 * @param minSparseHeight convs whose input map is lower than this run dense (small maps gain little)
 * @param maxActiveFraction a conv whose active blocks cover more than this fraction of its block
 *     grid runs dense (gather and scatter would cost more than they save); 1 keeps every eligible
 *     conv sparse, as the reference does
 * @param blockSize3x3 input block size of 3x3 convs (6: a 4x4 output tile)
 * @param blockSize1x1 input block size of 1x1 convs (4)
 * @param fullModeNodes nodes (by name) whose output the sparse pass computes exactly as the full
 *     pass would: a group norm among them recomputes its statistics, a conv runs dense or on the
 *     tiles around where its input changed ({@link SparsePlanner#exactEligible})
 */
public record SparsePolicy(int minSparseHeight, double maxActiveFraction, int blockSize3x3, int blockSize1x1,
        Set<String> fullModeNodes) {

    public SparsePolicy {
        fullModeNodes = Collections.unmodifiableSet(new HashSet<>(fullModeNodes));
    }

    public static SparsePolicy of(int minSparseHeight, String... fullModeNodes) {
        Set<String> names = new HashSet<>();
        Collections.addAll(names, fullModeNodes);
        return new SparsePolicy(minSparseHeight, 1.0, 6, 4, names);
    }

    public SparsePolicy withMaxActiveFraction(double fraction) {
        return new SparsePolicy(minSparseHeight, fraction, blockSize3x3, blockSize1x1, fullModeNodes);
    }

    public int blockSize(int kernel) {
        return kernel == 1 ? blockSize1x1 : blockSize3x3;
    }
}
