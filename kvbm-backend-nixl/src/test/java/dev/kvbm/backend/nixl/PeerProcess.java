package dev.kvbm.backend.nixl;

import dev.kvbm.api.MemoryRegion;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** A {@link PeerProgram} in a child JVM on this test run's class path. */
final class PeerProcess implements AutoCloseable {
    private final Process process;
    private final byte[] metadata;
    private final MemoryRegion region;
    private final Path log;

    private PeerProcess(Process process, byte[] metadata, MemoryRegion region, Path log) {
        this.process = process;
        this.metadata = metadata;
        this.region = region;
        this.log = log;
    }

    static PeerProcess start(String name, long size, int seed) throws IOException {
        return start(name, size, seed, null);
    }

    /** A peer that, before it says READY, loads {@code attachTo} (another agent's metadata), when not null. */
    static PeerProcess start(String name, long size, int seed, byte[] attachTo) throws IOException {
        return start(name, size, seed, attachTo, null);
    }

    /** As {@link #start(String, long, int, byte[])}, the peer's agent given the fleet's {@code secret} when not null. */
    static PeerProcess start(String name, long size, int seed, byte[] attachTo, String secret) throws IOException {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        List<String> classPath = new ArrayList<>();
        for (String property : List.of("jdk.module.path", "java.class.path")) {
            for (String entry : System.getProperty(property, "").split(File.pathSeparator)) {
                if (!entry.isBlank()) {
                    classPath.add(entry);
                }
            }
        }
        classPath.add(Path.of("target", "test-classes").toAbsolutePath().toString());
        classPath.add(Path.of("target", "classes").toAbsolutePath().toString());
        List<String> command = new ArrayList<>(List.of(java.toString(), "--enable-native-access=ALL-UNNAMED",
                "--illegal-native-access=deny", "-cp", String.join(File.pathSeparator, classPath),
                PeerProgram.class.getName(), name, Long.toString(size), Integer.toString(seed)));
        if (attachTo != null) {
            command.add(HexFormat.of().formatHex(attachTo));
        }
        Path log = Files.createTempFile("kvbm-ucx-peer", ".log");
        ProcessBuilder builder = new ProcessBuilder(command).redirectError(log.toFile());
        if (secret != null) {
            builder.environment().put(ClusterAuth.SECRET_ENV, secret);
        }
        Process process = builder.start();
        BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(),
                StandardCharsets.UTF_8));
        String line = out.readLine();
        if (line == null || !line.startsWith("READY ")) {
            process.destroyForcibly();
            throw new IllegalStateException("peer process did not start: " + line + "\n" + Files.readString(log));
        }
        String[] parts = line.split(" ");
        return new PeerProcess(process, HexFormat.of().parseHex(parts[1]),
                new MemoryRegion(Long.parseLong(parts[2]), Long.parseLong(parts[3])), log);
    }

    byte[] metadata() {
        return metadata.clone();
    }

    MemoryRegion region() {
        return region;
    }

    boolean isAlive() {
        return process.isAlive();
    }

    /** SIGKILL: the peer gets no chance to say goodbye. */
    void kill() {
        process.destroyForcibly();
        try {
            process.waitFor(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        try {
            process.getOutputStream().close();
            if (!process.waitFor(20, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
            Files.deleteIfExists(log);
        } catch (IOException | InterruptedException e) {
            process.destroyForcibly();
        }
    }
}
