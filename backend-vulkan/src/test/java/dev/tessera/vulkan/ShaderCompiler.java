package dev.tessera.vulkan;

import static org.lwjgl.system.MemoryUtil.memFree;
import static org.lwjgl.system.MemoryUtil.memUTF8;
import static org.lwjgl.util.shaderc.Shaderc.*;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;
import org.lwjgl.util.shaderc.ShadercIncludeResolve;
import org.lwjgl.util.shaderc.ShadercIncludeResult;
import org.lwjgl.util.shaderc.ShadercIncludeResultRelease;

/**
 * Compiles the kernels in {@code src/main/glsl} to the SPIR-V resources the jar ships (run by
 * build-shaders.sh): each {@code NAME.comp} twice, {@code NAME_f32.spv} and {@code NAME_f16.spv}
 * (with {@code F16} defined: maps stored as float16), except kernels that define {@code F16}
 * themselves (one variant, {@code NAME.spv}). Targets Vulkan 1.1 (1.3 for VK_NV_cooperative_matrix2);
 * writes {@code sources.sha256}, which {@link ShadersTest} checks against the GLSL.
 */
public final class ShaderCompiler {
    private ShaderCompiler() {}

    public static void main(String[] args) throws IOException, NoSuchAlgorithmException {
        Path glsl = Path.of(args[0]), out = Path.of(args[1]);
        List<Path> sources;
        try (Stream<Path> files = Files.list(glsl)) {
            sources = files.sorted().toList();
        }
        try (Stream<Path> old = Files.list(out)) {
            for (Path f : (Iterable<Path>) old::iterator) if (f.toString().endsWith(".spv")) Files.delete(f);
        }
        long compiler = shaderc_compiler_initialize();
        try (ShadercIncludeResolve resolve = ShadercIncludeResolve.create((user, requested, type, requesting, depth) -> include(glsl, requested));
                ShadercIncludeResultRelease release = ShadercIncludeResultRelease.create((user, result) -> free(result))) {
            for (Path source : sources) {
                String name = source.getFileName().toString();
                if (!name.endsWith(".comp")) continue;
                String base = name.substring(0, name.length() - ".comp".length()), text = Files.readString(source);
                if (text.contains("\n#define F16")) {
                    compile(compiler, resolve, release, source, text, false, out.resolve(base + ".spv"));
                } else {
                    compile(compiler, resolve, release, source, text, false, out.resolve(base + "_f32.spv"));
                    compile(compiler, resolve, release, source, text, true, out.resolve(base + "_f16.spv"));
                }
            }
        } finally {
            shaderc_compiler_release(compiler);
        }
        List<String> lines = new ArrayList<>();
        for (Path source : sources) {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(source));
            lines.add(HexFormat.of().formatHex(digest) + "  " + source.getFileName());
        }
        Files.write(out.resolve("sources.sha256"), lines);
    }

    private static void compile(long compiler, ShadercIncludeResolve resolve, ShadercIncludeResultRelease release, Path source,
            String text, boolean f16, Path spv) throws IOException {
        long options = shaderc_compile_options_initialize();
        long result = 0;
        try {
            // Tensor-addressed cooperative matrices (VK_NV_cooperative_matrix2) need SPIR-V 1.6, so Vulkan 1.3.
            boolean vulkan13 = text.contains("GL_NV_cooperative_matrix2");
            shaderc_compile_options_set_target_env(options, shaderc_target_env_vulkan,
                    vulkan13 ? shaderc_env_version_vulkan_1_3 : shaderc_env_version_vulkan_1_1);
            shaderc_compile_options_set_optimization_level(options, shaderc_optimization_level_performance);
            shaderc_compile_options_set_include_callbacks(options, resolve, release, 0);
            if (f16) shaderc_compile_options_add_macro_definition(options, "F16", null);
            result = shaderc_compile_into_spv(compiler, text, shaderc_compute_shader, source.toString(), "main", options);
            if (shaderc_result_get_compilation_status(result) != shaderc_compilation_status_success) {
                throw new IllegalStateException(source + (f16 ? " (F16)" : "") + ": " + shaderc_result_get_error_message(result));
            }
            ByteBuffer bytes = shaderc_result_get_bytes(result);
            byte[] copy = new byte[bytes.remaining()];
            bytes.get(copy);
            Files.write(spv, copy);
        } finally {
            if (result != 0) shaderc_result_release(result);
            shaderc_compile_options_release(options);
        }
    }

    private static void free(long result) {
        ShadercIncludeResult r = ShadercIncludeResult.create(result);
        memFree(r.source_name());
        memFree(r.content());
        r.free();
    }

    /** An {@code #include "name"} of a file beside the kernels; freed by the release callback. */
    private static long include(Path glsl, long requested) {
        String name = memUTF8(requested);
        String content;
        try {
            content = Files.readString(glsl.resolve(name));
        } catch (IOException e) {
            content = null;
        }
        ShadercIncludeResult r = ShadercIncludeResult.calloc();
        // On failure shaderc reports the empty source name with the content as its error message.
        ByteBuffer sourceName = content == null ? memUTF8("", false) : memUTF8(name, false);
        ByteBuffer body = memUTF8(content == null ? "cannot read " + name : content, false);
        r.source_name(sourceName).content(body);
        return r.address();
    }
}
