package dev.tessera.samples;

import dev.tessera.runtime.models.GauganConfig;
import dev.tessera.runtime.models.SemanticMap;
import dev.tessera.runtime.tensor.Tensor;
import java.util.List;

/**
 * The demo's built-in scene for the bundled small GauGAN ({@code /demo/weights.safetensors}, trained
 * by {@code tools/demo_gaugan} on procedural scenes): a label map, an instance map and a scripted
 * brush stroke that paints trees across the road and the grass. Class ids, colours and geometry
 * mirror {@code tools/demo_gaugan/scenes.py} ({@code demo_scene}) pixel for pixel: shapes are
 * integer tests on a 512x256 design canvas, each pixel mapped to {@code u = x*512/W, v = y*256/H}.
 */
public final class DemoScene {
    public static final int SKY = 0, TREE = 1, ROAD = 2, BUILDING = 3, GRASS = 4, WATER = 5;
    public static final List<String> CLASS_NAMES = List.of("sky", "tree", "road", "building", "grass", "water");
    /** Display colour (0xRRGGBB) of each class. */
    private static final int[] COLORS = {0x5AAAFA, 0x146E1E, 0x804080, 0xBE6E46, 0x96E65A, 0x1446C8};
    public static final int CLASS_COUNT = CLASS_NAMES.size();
    /** The bundled model's input and output size. */
    public static final int HEIGHT = 256, WIDTH = 512;
    /** Instance id of the scripted stroke's new tree. */
    public static final int STROKE_INSTANCE = 30;

    private static final int DESIGN_W = 512, DESIGN_H = 256;
    private static final int[] LAKE = {150, 160, 90, 22}; // centre u, v, radii
    private static final int[][] BUILDINGS = {{250, 40, 310, 114}, {318, 62, 372, 112}, {380, 28, 452, 110}, {462, 70, 506, 108}};
    private static final int[][][] TREES = { // discs {u, v, r}, one instance each
        {{62, 92, 26}, {40, 104, 18}, {84, 102, 18}},
        {{206, 104, 20}, {190, 112, 14}, {222, 112, 14}},
        {{470, 130, 22}, {452, 140, 15}, {490, 140, 15}},
        {{300, 150, 16}, {288, 158, 11}, {312, 158, 11}},
    };
    private static final int[][] STROKE = {{150, 238}, {204, 214}, {262, 196}, {322, 186}, {372, 180}};
    private static final int BRUSH = 18;

    private DemoScene() {}

    /** A label map (ids in [0, CLASS_COUNT)) and an instance map, row-major [height, width]. */
    public record Scene(int height, int width, int[] labels, int[] instances) {
        /** The generator's input: one-hot labels plus the instance-edge channel. */
        public Tensor semantics() {
            return SemanticMap.of(labels, instances, height, width, CLASS_COUNT);
        }

        public Scene copy() {
            return new Scene(height, width, labels.clone(), instances.clone());
        }

        private void set(int i, int label, int instance) {
            labels[i] = label;
            instances[i] = instance;
        }

        private int u(int i) { return i % width * DESIGN_W / width; }
        private int v(int i) { return i / width * DESIGN_H / height; }
    }

    /** The bundled model's configuration (tools/demo_gaugan's config.json). */
    public static GauganConfig config() {
        return new GauganConfig(12, CLASS_COUNT + 1, 512, 2.0, 6);
    }

    /** Sky over grass with a lake, four buildings on the horizon, four trees and a road at the bottom. */
    public static Scene original(int height, int width) {
        Scene s = new Scene(height, width, new int[height * width], new int[height * width]);
        for (int i = 0; i < height * width; i++) {
            int u = s.u(i), v = s.v(i);
            boolean sky = v < 104 - u / 32;
            s.set(i, sky ? SKY : GRASS, sky ? 1 : 2);
            long du = u - LAKE[0], dv = v - LAKE[1], rx = LAKE[2], ry = LAKE[3];
            if (!sky && du * du * ry * ry + dv * dv * rx * rx <= rx * rx * ry * ry) s.set(i, WATER, 3);
            for (int k = 0; k < BUILDINGS.length; k++) {
                int[] b = BUILDINGS[k];
                if (u >= b[0] && u < b[2] && v >= b[1] && v < b[3]) s.set(i, BUILDING, 10 + k);
            }
            if (v >= 188 + u / 64) s.set(i, ROAD, 4);
            for (int k = 0; k < TREES.length; k++) {
                if (inDiscs(u, v, TREES[k])) s.set(i, TREE, 20 + k);
            }
        }
        return s;
    }

    /** The original scene with the scripted brush stroke: a band of trees from the road's left up across it. */
    public static Scene edited(int height, int width) {
        Scene s = original(height, width);
        int[][] dabs = strokeDabs();
        for (int i = 0; i < height * width; i++) {
            int u = s.u(i), v = s.v(i);
            for (int[] d : dabs) {
                if ((u - d[0]) * (u - d[0]) + (v - d[1]) * (v - d[1]) <= BRUSH * BRUSH) {
                    s.set(i, TREE, STROKE_INSTANCE);
                    break;
                }
            }
        }
        return s;
    }

    /** Brush centres: six per polyline segment plus the end, interpolated in non-negative integers. */
    private static int[][] strokeDabs() {
        int[][] dabs = new int[(STROKE.length - 1) * 6 + 1][];
        int n = 0;
        for (int k = 0; k + 1 < STROKE.length; k++) {
            int[] a = STROKE[k], b = STROKE[k + 1];
            for (int t = 0; t < 6; t++) dabs[n++] = new int[] {(a[0] * (6 - t) + b[0] * t) / 6, (a[1] * (6 - t) + b[1] * t) / 6};
        }
        dabs[n] = STROKE[STROKE.length - 1];
        return dabs;
    }

    private static boolean inDiscs(int u, int v, int[][] discs) {
        for (int[] d : discs) if ((u - d[0]) * (u - d[0]) + (v - d[1]) * (v - d[1]) <= d[2] * d[2]) return true;
        return false;
    }

    /** Display colours (0xRRGGBB) of a label map. */
    public static int[] colorize(int[] labels) {
        int[] rgb = new int[labels.length];
        for (int i = 0; i < labels.length; i++) rgb[i] = COLORS[labels[i]];
        return rgb;
    }

}
