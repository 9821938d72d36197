package dev.tessera.runtime.session;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.BackendUnavailableException;
import dev.tessera.EditResult;
import dev.tessera.EditSession;
import dev.tessera.Image;
import dev.tessera.InvalidInputException;
import dev.tessera.LabelMap;
import dev.tessera.ModelHandle;
import dev.tessera.ModelSpec;
import dev.tessera.NoFullPassException;
import dev.tessera.Tessera;
import dev.tessera.runtime.Golden;
import dev.tessera.runtime.io.SafetensorsFile;
import dev.tessera.runtime.tensor.Tensor;
import dev.tessera.spi.Backends;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The public API end to end on the golden GauGAN (256x128). */
class SessionTest {
    static LabelMap original, edited;
    static Tensor goldenSparse;

    @BeforeAll
    static void load() {
        try (SafetensorsFile c = Golden.tensors("gaugan")) {
            original = new LabelMap(256, 128, c.ints("label_original"), c.ints("instance_original"));
            edited = new LabelMap(256, 128, c.ints("label_edited"), c.ints("instance_edited"));
            goldenSparse = c.tensor("sparse_edited");
        }
    }

    static ModelSpec spec() {
        return ModelSpec.gaugan(Golden.dir("gaugan").resolve("weights.safetensors"))
                .with("ngf", 8).with("crop_size", 256).with("aspect_ratio", 2.0).with("num_upsampling_layers", "more");
    }

    @Test
    void editMatchesTheReferencesSparseOutput() {
        try (ModelHandle model = Tessera.load(spec()); EditSession s = model.newSession()) {
            s.generate(original);
            EditResult r = s.edit(edited);
            Golden.assertMatches("session edit", goldenSparse, Tensor.of(goldenSparse.shape(), r.image().rgb()));
            assertEquals(0.0379, r.editedFraction(), 1e-4);
            assertTrue(r.sparseMacs() < r.denseMacs() / 3, r.sparseMacs() + " of " + r.denseMacs());
            assertEquals("cpu", r.backend());
            assertFalse(r.fullRecompute());
            assertTrue(r.phases().containsKey("sparse pass"));
        }
    }

    @Test
    void revertReturnsTheAcceptedImageAndAcceptMakesTheEditTheBaseline() {
        try (ModelHandle model = Tessera.load(spec()); EditSession s = model.newSession()) {
            Image first = s.generate(original).image();
            Image preview = s.edit(edited).image();
            assertArrayEquals(first.rgb(), s.revert().rgb());
            s.edit(edited);
            s.accept();
            assertArrayEquals(preview.rgb(), s.current().rgb());
            EditResult none = s.edit(edited); // no change relative to the accepted state
            assertEquals(0.0, none.editedFraction());
            assertEquals(0, none.sparseMacs());
        }
    }

    @Test
    void paintingIntoTheSameArraysBetweenCallsEditsFromTheAcceptedCopy() {
        try (ModelHandle model = Tessera.load(spec()); EditSession s = model.newSession()) {
            int[] labels = original.labels().clone(), instances = original.instances().clone();
            LabelMap canvas = new LabelMap(256, 128, labels, instances); // one map the caller keeps painting into
            s.generate(canvas);
            System.arraycopy(edited.labels(), 0, labels, 0, labels.length);
            System.arraycopy(edited.instances(), 0, instances, 0, instances.length);
            EditResult r = s.edit(canvas);
            assertEquals(0.0379, r.editedFraction(), 1e-4);
            Golden.assertMatches("edit of a map painted in place", goldenSparse, Tensor.of(goldenSparse.shape(), r.image().rgb()));
        }
    }

    @Test
    void sequentialAcceptedEditsStayCloseToDense() {
        try (ModelHandle model = Tessera.load(spec()); EditSession s = model.newSession()) {
            s.generate(original);
            int[] labels = original.labels().clone();
            SplittableRandom r = new SplittableRandom(5);
            LabelMap current = original;
            double single = 0;
            for (int edit = 0; edit < 10; edit++) {
                int y0 = r.nextInt(100), x0 = r.nextInt(220), label = r.nextInt(35);
                for (int y = y0; y < y0 + 12; y++) for (int x = x0; x < x0 + 20; x++) labels[y * 256 + x] = label;
                current = LabelMap.of(256, 128, labels.clone());
                // instances follow labels here, so the map stays consistent with the original's format
                EditResult result = s.edit(current);
                s.accept();
                if (edit == 0) single = maxDifference(result.image(), dense(model, current));
            }
            double drift = maxDifference(s.current(), dense(model, current));
            System.out.printf("sequential edits: max |sparse - dense| after 1 edit %.4f, after 10 accepted edits %.4f%n", single, drift);
            assertTrue(drift <= 3 * single + 1e-3, "drift " + drift + " vs single edit " + single);
        }
    }

    private static Image dense(ModelHandle model, LabelMap input) {
        try (EditSession fresh = model.newSession()) {
            return fresh.generate(input).image();
        }
    }

    private static double maxDifference(Image a, Image b) {
        double max = 0;
        for (int i = 0; i < a.rgb().length; i++) max = Math.max(max, Math.abs(a.rgb()[i] - b.rgb()[i]));
        return max;
    }

    @Test
    void concurrentEditsFromManyThreadsAgree() throws Exception {
        try (ModelHandle model = Tessera.load(spec()); EditSession s = model.newSession()) {
            s.generate(original);
            float[] expected = s.edit(edited).image().rgb();
            ExecutorService pool = Executors.newFixedThreadPool(4);
            List<Future<EditResult>> results = new ArrayList<>();
            for (int i = 0; i < 8; i++) results.add(pool.submit(() -> s.edit(edited)));
            for (Future<EditResult> f : results) assertArrayEquals(expected, f.get().image().rgb());
            pool.shutdown();
        }
    }

    @Test
    void cancelStopsTheRunAndLeavesTheSessionUsable() throws Exception {
        try (ModelHandle model = Tessera.load(spec()); EditSession s = model.newSession()) {
            s.generate(original);
            float[] expected = s.edit(edited).image().rgb();
            AtomicReference<CompletableFuture<EditResult>> self = new AtomicReference<>();
            List<Integer> seen = new ArrayList<>();
            CompletableFuture<EditResult> f = s.editAsync(edited, p -> {
                seen.add(p.done());
                while (self.get() == null) Thread.onSpinWait();
                self.get().cancel(true);
            });
            self.set(f);
            assertThrows(CancellationException.class, f::join);
            assertArrayEquals(expected, s.edit(edited).image().rgb());
            assertTrue(seen.size() <= 2, "kept going after cancel: " + seen);
            EditResult viaFuture = s.editAsync(edited, null).get();
            assertArrayEquals(expected, viaFuture.image().rgb());
        }
    }

    @Test
    void budgetDropsTheLeastRecentlyUsedCacheAndItsNextEditSaysSo() {
        long oneCache;
        try (ModelHandle probe = Tessera.load(spec()); EditSession s = probe.newSession()) {
            s.generate(original);
            oneCache = probe.cacheBytes();
        }
        try (ModelHandle model = Tessera.load(spec().withCacheBudget(oneCache + oneCache / 2))) {
            EditSession a = model.newSession(), b = model.newSession();
            a.generate(original);
            b.generate(original); // does not fit beside a's cache: a's is dropped
            assertEquals(oneCache, model.cacheBytes());
            EditResult r = a.edit(edited);
            assertTrue(r.fullRecompute());
            Golden.assertMatches("edit after eviction", goldenSparse, Tensor.of(goldenSparse.shape(), r.image().rgb()));
        }
    }

    @Test
    void badCallsNameTheProblem() {
        try (ModelHandle model = Tessera.load(spec()); EditSession s = model.newSession()) {
            assertThrows(NoFullPassException.class, () -> s.edit(edited));
            InvalidInputException e = assertThrows(InvalidInputException.class,
                    () -> s.generate(LabelMap.of(128, 64, new int[128 * 64])));
            assertTrue(e.getMessage().contains("128x64, the model takes 256x128"), e.getMessage());
        }
        BackendUnavailableException e = assertThrows(BackendUnavailableException.class, () -> Backends.choose("quantum"));
        assertTrue(e.getMessage().contains("no backend named 'quantum'"), e.getMessage());
        assertEquals("cpu", Backends.choose("cpu").name());
    }
}
