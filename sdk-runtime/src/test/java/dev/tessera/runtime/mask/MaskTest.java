package dev.tessera.runtime.mask;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.runtime.tensor.Shape;
import dev.tessera.runtime.tensor.Tensor;
import org.junit.jupiter.api.Test;

class MaskTest {
    @Test
    void fromTensorTreatsNonZeroAsSet() {
        Tensor t = Tensor.of(Shape.of(2, 3), new float[] {0, 1, 0, -2, 0, 0.5f});
        Mask m = Mask.fromTensor(t);
        assertEquals(2, m.height());
        assertEquals(3, m.width());
        assertEquals(3, m.count());
        assertEquals(0.5, m.fraction());
        assertTrue(m.get(0, 1));
        assertTrue(m.get(1, 0));
        assertTrue(m.get(1, 2));
        assertFalse(m.get(0, 0));
        assertArrayEquals(new float[] {0, 1, 0, 1, 0, 1}, m.toTensor().toArray());
        assertEquals(Shape.of(2, 3), m.toTensor().shape());
        assertEquals(m, Mask.fromTensor(m.toTensor()));
    }

    @Test
    void fromTensorAcceptsLeadingOnesOnly() {
        Tensor t = Tensor.of(Shape.of(1, 1, 1, 2), new float[] {0, 3});
        assertEquals(Mask.of(1, 2, new boolean[] {false, true}), Mask.fromTensor(t));
        assertThrows(IllegalArgumentException.class, () -> Mask.fromTensor(Tensor.zeros(2, 2, 2)));
        assertThrows(IllegalArgumentException.class, () -> Mask.fromTensor(Tensor.zeros(4)));
        assertThrows(IllegalArgumentException.class, () -> Mask.fromTensor(Tensor.zeros(0, 4)));
    }

    @Test
    void immutableAndValueEquality() {
        boolean[] px = {true, false, false, true};
        Mask a = Mask.of(2, 2, px);
        px[1] = true; // the mask copied the array
        assertEquals(2, a.count());
        boolean[] out = a.toArray();
        out[1] = true;
        assertFalse(a.get(0, 1));
        Mask b = Mask.of(2, 2, new boolean[] {true, false, false, true});
        assertEquals(a, b);
        assertEquals(a.hashCode(), b.hashCode());
        assertNotEquals(a, Mask.of(1, 4, new boolean[] {true, false, false, true}));
        assertNotEquals(a, Mask.full(2, 2));
    }

    @Test
    void emptyFullAndBounds() {
        assertEquals(0, Mask.empty(3, 5).count());
        assertTrue(Mask.empty(3, 5).isEmpty());
        assertEquals(15, Mask.full(3, 5).count());
        assertEquals(1.0, Mask.full(3, 5).fraction());
        assertThrows(IndexOutOfBoundsException.class, () -> Mask.full(3, 5).get(3, 0));
        assertThrows(IndexOutOfBoundsException.class, () -> Mask.full(3, 5).get(0, -1));
        assertThrows(IllegalArgumentException.class, () -> Mask.empty(0, 5));
        assertThrows(IllegalArgumentException.class, () -> Mask.of(2, 2, new boolean[3]));
        assertEquals("Mask[3x5, 15 set]", Mask.full(3, 5).toString());
        assertEquals(new Resolution(3, 5), Mask.full(3, 5).resolution());
    }
}
