package dev.tessera.runtime.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.tessera.InvalidInputException;
import dev.tessera.runtime.mask.DifferenceMask;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class SemanticMapTest {
    private static final int H = 24, W = 40, LABELS = 7;

    @Test
    void changedPixelsAreWhereTheEncodedInputsDiffer() {
        SplittableRandom r = new SplittableRandom(3);
        int[] labels = randomMap(r, LABELS), instances = randomMap(r, 5);
        for (int edit = 0; edit < 40; edit++) {
            int[] labels2 = labels.clone(), instances2 = instances.clone();
            // label-only, instance-only (edges move, labels stay) and both, in rectangles reaching the borders
            int kind = edit % 3, y0 = r.nextInt(H), x0 = r.nextInt(W), y1 = Math.min(H, y0 + 1 + r.nextInt(8)),
                    x1 = Math.min(W, x0 + 1 + r.nextInt(8)), label = r.nextInt(LABELS), instance = r.nextInt(5);
            for (int y = y0; y < y1; y++) {
                for (int x = x0; x < x1; x++) {
                    if (kind != 1) labels2[y * W + x] = label;
                    if (kind != 0) instances2[y * W + x] = instance;
                }
            }
            assertEquals(DifferenceMask.changed(SemanticMap.of(labels, instances, H, W, LABELS),
                    SemanticMap.of(labels2, instances2, H, W, LABELS), 1e-3f),
                    SemanticMap.changed(labels, instances, labels2, instances2, H, W), "edit " + edit);
            labels = labels2;
            instances = instances2;
        }
    }

    @Test
    void encoderRewritesOnlyWhatChangedAndKeepsItsMapOnBadInput() {
        SplittableRandom r = new SplittableRandom(4);
        SemanticMap.Encoder encoder = new SemanticMap.Encoder(H, W, LABELS);
        int[] labels = randomMap(r, LABELS), instances = randomMap(r, 5);
        for (int step = 0; step < 20; step++) {
            assertArrayEquals(SemanticMap.of(labels, instances, H, W, LABELS).toArray(), encoder.encode(labels, instances).toArray(),
                    "step " + step);
            int[] bad = labels.clone(), sameInstances = instances;
            bad[r.nextInt(bad.length)] = LABELS; // out of range: refused, and the encoder still holds `labels`
            assertThrows(InvalidInputException.class, () -> encoder.encode(bad, sameInstances));
            labels = labels.clone();
            instances = instances.clone();
            for (int k = 0; k < 30; k++) {
                labels[r.nextInt(labels.length)] = r.nextInt(LABELS);
                instances[r.nextInt(instances.length)] = r.nextInt(5);
            }
        }
    }

    /** Blocky random ids, so that edges are runs and not every pixel. */
    private static int[] randomMap(SplittableRandom r, int ids) {
        int[] m = new int[H * W];
        for (int i = 0; i < m.length; i++) m[i] = (i / W / 6 * 7 + i % W / 5 + r.nextInt(2)) % ids;
        return m;
    }
}
