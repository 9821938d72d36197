package dev.tessera.runtime.sparse;

import dev.tessera.runtime.graph.Node;
import dev.tessera.runtime.graph.Op;
import dev.tessera.runtime.graph.Value;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.jspecify.annotations.Nullable;

/**
 * Which lane (a GPU stream) runs each step of a plan, and which steps of other lanes it waits for,
 * so that steps that do not depend on each other run side by side: in GauGAN, the SPADE convs that
 * read only the label map run beside the trunk. A backend runs each lane's steps in plan order and,
 * before a step, waits for the steps {@link #waits} names (each {@link #signals} once it is done).
 *
 * <p>Steps read and write forms of values: a value's tiles in one geometry, or its full map (a
 * channel slice that is a view shares its input's memory). A step depends on each earlier step
 * that wrote a form it reads or writes, or read a form it writes, and a view's readers on the view's
 * step (which runs no kernel, but an executor sets the view up when it runs it). The steps of the
 * longest chain of dependent steps (the critical path, counted in steps) run on lane 0, so nothing
 * else queues in front of them. Any other step continues the lane of its deepest dependency (the
 * longest chain before it) when that is not lane 0 and no other step continued it yet; otherwise
 * it takes the other lane used least recently. Its waits are the dependencies that the lane's
 * earlier steps and waits do not already order before it (vector clocks), the latest per lane.
 */
public final class StepLanes {
    private static final int[] NONE = {};

    private final int[] lane;
    private final int[][] waits;
    private final boolean[] signals;
    private final int lanes;

    private StepLanes(int[] lane, int[][] waits, boolean[] signals, int lanes) {
        this.lane = lane;
        this.waits = waits;
        this.signals = signals;
        this.lanes = lanes;
    }

    /** Every step on lane 0, in plan order. */
    public static StepLanes serial(SparsePlan plan) {
        int n = plan.steps().size();
        int[][] waits = new int[n][];
        Arrays.fill(waits, NONE);
        return new StepLanes(new int[n], waits, new boolean[n], 1);
    }

    /** The plan's steps over at most {@code maxLanes} lanes. */
    public static StepLanes of(SparsePlan plan, int maxLanes) {
        if (maxLanes < 1) throw new IllegalArgumentException("lanes: " + maxLanes);
        List<int[]> deps = dependencies(plan);
        int n = deps.size();
        int[] lane = new int[n], depth = new int[n], height = new int[n]; // steps in the longest chain before, and from, each step
        for (int i = 0; i < n; i++) for (int d : deps.get(i)) depth[i] = Math.max(depth[i], depth[d] + 1);
        int longest = 0;
        for (int i = n - 1; i >= 0; i--) {
            height[i] = Math.max(height[i], 1);
            for (int d : deps.get(i)) height[d] = Math.max(height[d], height[i] + 1);
            longest = Math.max(longest, depth[i] + height[i]);
        }
        int[][] waits = new int[n][];
        boolean[] signals = new boolean[n], continued = new boolean[n];
        int[] lastUse = new int[maxLanes];
        Arrays.fill(lastUse, -1);
        int[][] clock = new int[n][]; // clock[i][l]: the last step of lane l ordered before step i (inclusive), -1 none
        int[][] laneClock = new int[maxLanes][maxLanes];
        for (int[] c : laneClock) Arrays.fill(c, -1);
        int used = 0;
        for (int i = 0; i < n; i++) {
            int l = 0;
            if (maxLanes > 1 && depth[i] + height[i] < longest) { // off the critical path
                int deepest = -1;
                for (int d : deps.get(i)) {
                    if (lane[d] != 0 && !continued[d] && (deepest < 0 || depth[d] >= depth[deepest])) deepest = d;
                }
                if (deepest >= 0) {
                    l = lane[deepest];
                    continued[deepest] = true;
                } else {
                    l = 1;
                    for (int k = 2; k < maxLanes; k++) if (lastUse[k] < lastUse[l]) l = k;
                }
            }
            lane[i] = l;
            lastUse[l] = i;
            used = Math.max(used, l + 1);
            int[] c = laneClock[l].clone();
            int[] latest = new int[maxLanes]; // per other lane, the latest dependency not yet ordered before
            Arrays.fill(latest, -1);
            for (int d : deps.get(i)) if (lane[d] != l && d > c[lane[d]]) latest[lane[d]] = Math.max(latest[lane[d]], d);
            List<Integer> w = new ArrayList<>();
            for (int k = 0; k < maxLanes; k++) {
                int d = latest[k];
                if (d < 0 || d <= c[k]) continue; // an earlier wait of this step already covers it
                w.add(d);
                signals[d] = true;
                for (int m = 0; m < maxLanes; m++) c[m] = Math.max(c[m], clock[d][m]);
            }
            c[l] = i;
            clock[i] = c;
            laneClock[l] = c;
            waits[i] = w.stream().mapToInt(Integer::intValue).toArray();
        }
        return new StepLanes(lane, waits, signals, Math.max(used, 1));
    }

    /** The lane of step {@code step}. */
    public int lane(int step) {
        return lane[step];
    }

    /** Steps of other lanes that must be done before step {@code step} starts (each one {@link #signals}). */
    public int[] waits(int step) {
        return waits[step];
    }

    /** Whether a step of another lane waits for step {@code step}. */
    public boolean signals(int step) {
        return signals[step];
    }

    /** Lanes used: lane numbers are below this. */
    public int lanes() {
        return lanes;
    }

    /** A value's tiles in {@code geometry}, or its full map when {@code geometry} is null. */
    private record Form(Value value, @Nullable TileGeometry geometry) {}

    /** For each step, the earlier steps it depends on (ascending). */
    private static List<int[]> dependencies(SparsePlan plan) {
        Map<Form, Form> views = new HashMap<>(); // a view's form -> the form whose memory it shares
        Map<Form, Integer> lastWriter = new HashMap<>();
        Map<Form, List<Integer>> readersSince = new HashMap<>(); // readers since the last write
        List<int[]> deps = new ArrayList<>();
        List<SparsePlan.Step> steps = plan.steps();
        for (int i = 0; i < steps.size(); i++) {
            SparsePlan.Step s = steps.get(i);
            List<Form> reads = new ArrayList<>();
            Form written = forms(s, reads);
            if (SparsePlan.isView(s)) views.put(written, resolve(views, reads.get(0)));
            TreeSet<Integer> on = new TreeSet<>();
            for (Form r : reads) {
                Form f = resolve(views, r);
                for (Form at : Arrays.asList(r, f)) { // a view's reader follows the view's step too (it sets the view up on the host)
                    Integer w = lastWriter.get(at);
                    if (w != null) on.add(w);
                }
                readersSince.computeIfAbsent(f, k -> new ArrayList<>()).add(i);
            }
            if (SparsePlan.isView(s)) {
                lastWriter.put(written, i);
            } else {
                Form f = resolve(views, written);
                Integer w = lastWriter.put(f, i);
                if (w != null) on.add(w);
                List<Integer> readers = readersSince.remove(f);
                if (readers != null) for (int r : readers) if (r != i) on.add(r);
            }
            deps.add(on.stream().mapToInt(Integer::intValue).toArray());
        }
        return deps;
    }

    private static Form resolve(Map<Form, Form> views, Form f) {
        return views.getOrDefault(f, f);
    }

    /** The forms step {@code s} reads (added to {@code reads}, its main input first) and the one it writes. */
    private static Form forms(SparsePlan.Step s, List<Form> reads) {
        if (s instanceof SparsePlan.Gather g) {
            reads.add(g.tiles() != null ? new Form(g.value(), g.tiles()) : new Form(g.source(), null));
            Value map = g.addedMap(), vector = g.addedVector();
            if (map != null) reads.add(new Form(map, g.addTiles()));
            if (vector != null) reads.add(new Form(vector, null));
            return new Form(g.result(), g.geometry());
        }
        if (s instanceof SparsePlan.Scatter sc) {
            reads.add(new Form(sc.value(), sc.geometry()));
            return new Form(sc.value(), null);
        }
        if (s instanceof SparsePlan.RunFull f) {
            for (Value v : f.node().inputs()) reads.add(new Form(v, null));
            if (f.addend() != null) reads.add(new Form(f.addend(), null));
            return new Form(f.result(), null);
        }
        SparsePlan.RunTiles t = (SparsePlan.RunTiles) s;
        Node n = t.node();
        boolean fullInput = n.op() instanceof Op.SelfAttention; // reads keys and values from the whole map
        for (Value v : n.inputs()) reads.add(new Form(v, fullInput || v.shape().rank() == 2 ? null : t.in()));
        return new Form(t.result(), t.out());
    }
}
