package dev.kvbm.backend.system;

import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A small file system the test mounts itself (tmpfs of a few MiB, or ramfs), unmounted by {@link #close()}.
 * Mounting needs root: without it the test is skipped with the reason, unless {@code KVBM_REQUIRE} contains
 * {@code mount} (set by {@code .ci/run}, which runs as root), where that is a failure.
 */
final class ScratchMount implements AutoCloseable {
    final Path path;

    private ScratchMount(Path path) {
        this.path = path;
    }

    static ScratchMount mount(Path parent, String type, String options) throws IOException, InterruptedException {
        Path point = Files.createDirectories(parent.resolve(type + "-mount"));
        List<String> command = new ArrayList<>(List.of("mount", "-t", type));
        if (options != null) {
            command.addAll(List.of("-o", options));
        }
        command.addAll(List.of(type, point.toString()));
        String output;
        int rc;
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            rc = p.waitFor(30, TimeUnit.SECONDS) ? p.exitValue() : -1;
        } catch (IOException e) {
            output = e.getMessage();
            rc = -1;
        }
        if (rc != 0) {
            String reason = "cannot mount a " + type + " for this test (" + String.join(" ", command) + ": " + output
                    + "); it needs root";
            String require = System.getProperty("kvbm.require", "") + "," + System.getenv().getOrDefault("KVBM_REQUIRE", "");
            if (List.of(require.split(",")).contains("mount")) {
                Assertions.fail(reason + " (and KVBM_REQUIRE=mount says it must work here)");
            }
            Assumptions.abort(reason);
        }
        return new ScratchMount(point);
    }

    @Override
    public void close() throws IOException, InterruptedException {
        Process p = new ProcessBuilder("umount", "-l", path.toString()).redirectErrorStream(true).start();
        p.getInputStream().readAllBytes();
        p.waitFor(30, TimeUnit.SECONDS);
    }
}
