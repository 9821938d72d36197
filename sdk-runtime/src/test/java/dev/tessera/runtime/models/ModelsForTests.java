package dev.tessera.runtime.models;

import java.util.Arrays;
import java.util.Collections;

/** The model configurations of the golden cases (their meta.json). */
public final class ModelsForTests {
    public static final GauganConfig GOLDEN_GAUGAN = new GauganConfig(8, 36, 256, 2.0, 6);
    public static final DdpmConfig GOLDEN_DDPM = new DdpmConfig(64, 3, 3, 32, Arrays.asList(1, 2, 2), 1, Collections.singletonList(16));

    private ModelsForTests() {}
}
