package dev.kvbm.manager;

import dev.kvbm.api.spi.AgentProvider;
import dev.kvbm.api.spi.Backends;
import dev.kvbm.transport.LayoutHandle;
import dev.kvbm.transport.SerializedLayout;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReferenceArray;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Verified pulls from a peer in another process, and on another "host" (a network namespace joined by a veth pair,
 * UCX restricted to TCP on it), while that peer keeps serving: it prefills request after request into a G1 of 32
 * blocks and tells the reader where each block went; the reader pulls from that directory, which is always a
 * little out of date, and checks the bytes of every block it registers against the hash it pulled it as.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class RemotePullTwoProcessTest {
    /** Directory entries kept: two pools' worth of registrations, so the oldest are long evicted. */
    private static final int DIRECTORY = 2 * RemoteOwnerProgram.BLOCKS;

    private final Backends backends = Backends.load(getClass().getClassLoader(), Set.of());

    private record Entry(int request, int index, int blockId) {
    }

    @Test
    void aPeerInAnotherProcess() throws Exception {
        RemotePullRaceTest.assumeUcx(backends);
        race(List.of(), Map.of(), Map.of());
    }

    @Test
    void aPeerOnAnotherHostOverTcpOnly() throws Exception {
        RemotePullRaceTest.assumeUcx(backends);
        assumeTrue("root".equals(System.getProperty("user.name")), "joining two network namespaces needs root"
                + " (ip netns add); CI runs as root");
        assumeTrue(Files.isExecutable(Path.of("/usr/sbin/ip")) || Files.isExecutable(Path.of("/sbin/ip")),
                "the ip command (Debian: iproute2) is not installed");
        String tag = Long.toString(ProcessHandle.current().pid() % 100_000);
        String ns = "kvbm-pull-" + tag;
        String here = "kvbmp0-" + tag;
        String there = "kvbmp1-" + tag;
        try {
            ip("netns", "add", ns);
            ip("link", "add", here, "type", "veth", "peer", "name", there);
            ip("link", "set", there, "netns", ns);
            ip("addr", "add", "10.214.0.1/24", "dev", here);
            ip("link", "set", here, "up");
            ip("netns", "exec", ns, "ip", "addr", "add", "10.214.0.2/24", "dev", there);
            ip("netns", "exec", ns, "ip", "link", "set", there, "up");
            ip("netns", "exec", ns, "ip", "link", "set", "lo", "up");
            race(List.of("ip", "netns", "exec", ns), Map.of("ucx.TLS", "tcp", "ucx.NET_DEVICES", here),
                    Map.of("ucx.TLS", "tcp", "ucx.NET_DEVICES", there));
        } finally {
            new ProcessBuilder("ip", "netns", "del", ns).inheritIO().start().waitFor(30, TimeUnit.SECONDS);
            new ProcessBuilder("ip", "link", "del", here).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start().waitFor(30, TimeUnit.SECONDS);
        }
    }

    private void race(List<String> prefix, Map<String, String> readerOptions, Map<String, String> ownerOptions)
            throws Exception {
        List<String> command = new ArrayList<>(prefix);
        command.addAll(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "--illegal-native-access=deny", "-cp", classPath(),
                RemoteOwnerProgram.class.getName()));
        ownerOptions.forEach((k, v) -> command.add(k + "=" + v));
        Path log = Files.createTempFile("kvbm-owner", ".log");
        Process child = new ProcessBuilder(command).redirectError(log.toFile()).start();
        try (KvBlockManager reader = KvBlockManager.builder().model(RemoteOwnerProgram.SHAPE).backends(backends)
                .agent("ucx").agentOptions(new AgentProvider.Options(Duration.ofSeconds(10), readerOptions))
                .workerId(2).duplicates(BlockPool.Duplicates.ALLOW).tier(Tier.G1, TierSpec.blocks(16)).build()) {
            BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(),
                    StandardCharsets.UTF_8));
            PrintWriter in = new PrintWriter(child.getOutputStream(), true, StandardCharsets.UTF_8);
            String ready = out.readLine();
            if (ready == null || !ready.startsWith("READY ")) {
                fail("the owner did not start: " + ready + "\n" + Files.readString(log));
            }
            List<LayoutHandle> sets = reader.importBlockSets(SerializedLayout.fromBytes(
                    HexFormat.of().parseHex(ready.substring("READY ".length()))));
            assertThat(sets).as("the owner's G1 only: its block-state table is not a block set").hasSize(1);
            LayoutHandle g1 = sets.getFirst();

            AtomicReferenceArray<Entry> directory = new AtomicReferenceArray<>(DIRECTORY);
            AtomicInteger published = new AtomicInteger();
            CompletableFuture<String> done = new CompletableFuture<>();
            Thread lines = new Thread(() -> {
                try {
                    for (String line; (line = out.readLine()) != null; ) {
                        String[] w = line.split(" ");
                        if (w[0].equals("AT")) {
                            directory.set(published.get() % DIRECTORY, new Entry(Integer.parseInt(w[1]),
                                    Integer.parseInt(w[2]), Integer.parseInt(w[3])));
                            published.incrementAndGet();
                        } else if (w[0].equals("DONE")) {
                            done.complete(line);
                        }
                    }
                } catch (IOException | RuntimeException e) {
                    done.completeExceptionally(e);
                }
                done.completeExceptionally(new IllegalStateException("the owner's output ended"));
            }, "owner-output");
            lines.setDaemon(true);
            lines.start();
            in.println("RUN");

            RemotePullRaceTest.Tally tally = new RemotePullRaceTest.Tally();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (System.nanoTime() < deadline && (tally.accepted < 200 || tally.changed < 200) && !done.isDone()) {
                int latest = published.get();
                if (latest < DIRECTORY) {
                    Thread.sleep(1);
                    continue;
                }
                // From the block just registered to ones a pool and a half ago, long evicted.
                int back = 1 + ThreadLocalRandom.current().nextInt(DIRECTORY * 3 / 4);
                Entry e = directory.get((latest - back) % DIRECTORY);
                tally.pull(reader, g1, e.blockId(), RemoteOwnerProgram.request(e.request()), e.index());
            }
            in.println("STOP");
            assertThat(done.get(30, TimeUnit.SECONDS)).as(() -> logOf(log)).startsWith("DONE ");
            assertThat(child.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(child.exitValue()).as(() -> logOf(log)).isZero();
            tally.assertOutcome(reader);
        } finally {
            child.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
            Files.deleteIfExists(log);
        }
    }

    private static String logOf(Path log) {
        try {
            return "the owner's log:\n" + Files.readString(log);
        } catch (IOException e) {
            return "the owner's log is unreadable: " + e;
        }
    }

    /** This test run's module and class path and these tests' classes, as one class path for the owner's JVM. */
    private static String classPath() {
        List<String> entries = new ArrayList<>();
        for (String property : List.of("jdk.module.path", "java.class.path")) {
            for (String entry : System.getProperty(property, "").split(File.pathSeparator)) {
                if (!entry.isBlank()) {
                    entries.add(entry);
                }
            }
        }
        entries.add(Path.of("target", "test-classes").toAbsolutePath().toString());
        return String.join(File.pathSeparator, entries);
    }

    private static void ip(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("ip"));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
            fail(String.join(" ", command) + " failed: " + output);
        }
    }
}
