package dev.tessera.runtime.mask;

import static dev.tessera.runtime.mask.MaskAssert.assertMaskEquals;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.runtime.Golden;
import dev.tessera.runtime.io.SafetensorsFile;
import dev.tessera.runtime.models.ModelsForTests;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/** Masks, pyramids and active blocks against the reference's conformance vectors (testdata/golden). */
class GoldenMaskTest {
    private static final String PYRAMID = "downsample_masks/";
    private static final String HELD = "masks/";
    private static final String BLOCKS = "active_indices/";

    @Test
    void gaugan() {
        SafetensorsFile f = Golden.tensors("gaugan");
        MaskRule rule = ModelsForTests.GOLDEN_GAUGAN.maskRule(); // the runner's eps 1e-3, dilation 1, pyramid to 2x4 with dilation 2
        Mask diff = rule.difference(f.tensor("semantics_original"), f.tensor("semantics_edited"));
        assertMaskEquals("gaugan difference_mask", Mask.fromTensor(f.tensor("difference_mask")), diff);
        assertEquals(0.0379, diff.fraction(), 5e-5, "README: 3.79% of pixels");
        MaskPyramid pyramid = rule.pyramid(diff);
        checkPyramid(f, pyramid, "gaugan");
        checkBlocks(f, pyramid, "gaugan", 9);
    }

    @Test
    void ddpm() {
        SafetensorsFile f = Golden.tensors("ddpm");
        MaskRule rule = ModelsForTests.GOLDEN_DDPM.maskRule(2); // eps 0.01, dilation 2, pyramid to 16x16 with dilation 1
        Mask diff = rule.difference(f.tensor("x0_original"), f.tensor("x0_edited"));
        assertMaskEquals("ddpm difference_mask", Mask.fromTensor(f.tensor("difference_mask")), diff);
        assertEquals(0.0242, diff.fraction(), 5e-5, "README: 2.42% of pixels");
        MaskPyramid pyramid = rule.pyramid(diff);
        checkPyramid(f, pyramid, "ddpm");
        checkBlocks(f, pyramid, "ddpm", 6);
    }

    @Test
    void conv() {
        SafetensorsFile f = Golden.tensors("conv");
        Mask m = Mask.fromTensor(f.tensor("masks/64x64"));
        assertMaskEquals("conv mask", Mask.fromTensor(f.tensor("mask")), m);
        MaskPyramid held = MaskPyramid.ofMasks(m);
        checkBlocks(f, held, "conv", 1);
        // The key the conv's gather builds: 3x3, stride 1, padding 1, block 6.
        BlockKey k = BlockKey.forConv(64, 64, 3, 1, 1, 6);
        assertEquals("res64x64_b6x6_s4x4_o1x1", k.toString());
        assertEquals(23, new BlockSets(held).get(k).count());
    }

    /** Every downsample_masks/* entry, and nothing more; masks/* (held by the gathers) are among them. */
    private static void checkPyramid(SafetensorsFile f, MaskPyramid pyramid, String caseName) {
        TreeSet<String> golden = new TreeSet<>(), ours = new TreeSet<>();
        for (String key : f.keys()) if (key.startsWith(PYRAMID)) golden.add(key.substring(PYRAMID.length()));
        for (Resolution r : pyramid.resolutions()) ours.add(r.toString());
        assertEquals(golden, ours, caseName + ": pyramid resolutions");
        for (String res : golden) {
            Mask expected = Mask.fromTensor(f.tensor(PYRAMID + res));
            assertMaskEquals(caseName + " " + PYRAMID + res, expected, pyramid.at(expected.height(), expected.width()));
        }
        for (String key : f.keys()) {
            if (!key.startsWith(HELD)) continue;
            Mask expected = Mask.fromTensor(f.tensor(key));
            assertMaskEquals(caseName + " " + key, expected, pyramid.at(expected.height(), expected.width()));
        }
    }

    /** Every active_indices/* key: the same origins in the same order, shared per key through BlockSets. */
    private static void checkBlocks(SafetensorsFile f, MaskPyramid pyramid, String caseName, int expectedKeys) {
        BlockSets sets = new BlockSets(pyramid);
        List<String> keys = new ArrayList<>();
        for (String key : f.keys()) if (key.startsWith(BLOCKS)) keys.add(key);
        assertEquals(expectedKeys, keys.size(), caseName + ": number of active_indices keys");
        for (String key : keys) {
            BlockKey k = BlockKey.parse(key.substring(BLOCKS.length()));
            assertEquals(key.substring(BLOCKS.length()), k.toString());
            ActiveBlocks blocks = sets.get(k);
            int[] expected = f.ints(key);
            assertEquals(f.shape(key).dim(0), blocks.count(), caseName + " " + key + ": count");
            assertArrayEquals(expected, blocks.toArray(), caseName + " " + key + ": origins");
            assertFalse(blocks.isEmpty(), caseName + " " + key);
            for (int i = 0; i < blocks.count(); i++) {
                assertEquals(expected[2 * i], blocks.row(i));
                assertEquals(expected[2 * i + 1], blocks.col(i));
            }
            assertSame(blocks, sets.get(BlockKey.parse(k.toString())), "equal keys share one instance");
        }
        assertEquals(keys.size(), sets.size());
        assertTrue(pyramid.size() >= 1);
    }
}
