package dev.kvbm.discovery.etcd;

import dev.kvbm.api.spi.AgentProvider;
import dev.kvbm.api.spi.Backends;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.abort;

/**
 * Membership through each discovery provider (the embedded default, and a real etcd), between worker processes
 * with the ucx agent: three register and import
 * each other; one is killed with SIGKILL (so it unregisters nothing) and the others see it leave, forget its
 * layouts (a transfer into them fails naming the worker), and import a fourth that appears later, without a restart
 * of anyone. How soon a killed worker is seen gone (the TTL plus about a heartbeat) is a benchmark figure
 * ({@code kvbm bench discovery}), not this test's deadline: it waits {@link #LEFT_WITHIN_TTLS} TTLs, so that a
 * busy machine cannot fail it while a provider that never notices still does.
 */
class DiscoveryMembershipTest {
    private static final long TTL_MS = 3000;
    /** How many TTLs the test waits for a killed worker to be seen gone. */
    private static final long LEFT_WITHIN_TTLS = 10;

    @TempDir
    Path registry;

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"embedded", "etcd"})
    void workersJoinLeaveWhenKilledAndANewOneIsImported(String provider) throws Exception {
        assumeUcx();
        EtcdServer etcd = provider.equals("etcd") ? EtcdServer.start(registry) : null;
        String endpoints = etcd == null ? registry.toString() : etcd.endpoint();
        List<Worker> workers = new ArrayList<>();
        try {
            for (long id = 1; id <= 3; id++) {
                workers.add(Worker.start(id, provider, endpoints));
            }
            for (Worker w : workers) {
                w.awaitLines(List.of("EVENT joined " + other(w, 1, workers), "EVENT joined " + other(w, 2, workers)),
                        30_000);
            }
            Worker victim = workers.get(1);
            victim.process.destroyForcibly(); // SIGKILL
            long killedAt = System.nanoTime();
            victim.process.waitFor(30, TimeUnit.SECONDS);
            for (Worker w : List.of(workers.get(0), workers.get(2))) {
                w.awaitLines(List.of("EVENT left 2 "), LEFT_WITHIN_TTLS * TTL_MS - elapsedMs(killedAt));
                String transfer = w.awaitLines(List.of("TRANSFER "), 10_000);
                assertThat(transfer).contains("worker 2").contains("is gone").contains("discovery entry disappeared");
            }
            if (etcd == null) {
                assertThat(Files.list(registry.resolve("test-ns").resolve("workers")).map(p -> p.getFileName()
                        .toString()).toList()).containsExactlyInAnyOrder("1.entry", "3.entry");
            }
            Worker late = Worker.start(4, provider, endpoints);
            workers.add(late);
            for (Worker w : List.of(workers.get(0), workers.get(2))) {
                w.awaitLines(List.of("EVENT joined 4 "), 30_000);
            }
            late.awaitLines(List.of("EVENT joined 1 ", "EVENT joined 3 "), 30_000);
            assertThat(late.seen).noneMatch(l -> l.startsWith("EVENT joined 2 "));
        } finally {
            for (Worker w : workers) {
                w.process.destroyForcibly();
                w.process.waitFor(30, TimeUnit.SECONDS);
            }
            if (etcd != null) {
                etcd.close();
            }
        }
    }

    private static long elapsedMs(long since) {
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - since);
    }

    /** The n-th other worker's "id " prefix, as this worker would print it. */
    private static String other(Worker self, int n, List<Worker> all) {
        return all.stream().filter(w -> w != self).skip(n - 1).findFirst().orElseThrow().id + " ";
    }

    private record Worker(long id, Process process, BlockingQueue<String> lines, List<String> seen, Path log) {
        static Worker start(long id, String provider, String endpoints) throws IOException {
            Path log = Files.createTempFile("kvbm-discovery-worker", ".log");
            Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "--enable-native-access=ALL-UNNAMED",
                    "--illegal-native-access=deny", "-cp", classPath(),
                    DiscoveryWorkerProgram.class.getName(), Long.toString(id), provider, endpoints,
                    "test-ns", Long.toString(TTL_MS)).redirectError(log.toFile()).start();
            BlockingQueue<String> lines = new LinkedBlockingQueue<>();
            Thread reader = new Thread(() -> {
                try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(),
                        StandardCharsets.UTF_8))) {
                    String line;
                    while ((line = in.readLine()) != null) {
                        lines.add(line);
                    }
                } catch (IOException e) {
                    // the process ended
                }
            }, "worker-" + id + "-stdout");
            reader.setDaemon(true);
            reader.start();
            return new Worker(id, p, lines, new java.util.concurrent.CopyOnWriteArrayList<>(), log);
        }

        /** Waits until a line starting with each prefix has been printed; returns the last one matched. */
        String awaitLines(List<String> prefixes, long timeoutMs) throws Exception {
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(Math.max(timeoutMs, 0));
            String last = null;
            for (String prefix : prefixes) {
                String found = seen.stream().filter(l -> l.startsWith(prefix)).findFirst().orElse(null);
                while (found == null) {
                    String line = lines.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                    if (line == null) {
                        fail("worker " + id + " did not print '" + prefix + "' within " + timeoutMs + " ms; it printed "
                                + seen + "\nstderr:\n" + Files.readString(log));
                    }
                    seen.add(line);
                    if (line.startsWith(prefix)) {
                        found = line;
                    }
                }
                last = found;
            }
            return last;
        }
    }

    /** This test run's module and class path as one class path, for the worker JVMs. */
    private static String classPath() {
        List<String> entries = new ArrayList<>();
        for (String property : List.of("jdk.module.path", "java.class.path")) {
            for (String entry : System.getProperty(property, "").split(java.io.File.pathSeparator)) {
                if (!entry.isBlank()) {
                    entries.add(entry);
                }
            }
        }
        entries.add(Path.of("target", "test-classes").toAbsolutePath().toString());
        entries.add(Path.of("target", "classes").toAbsolutePath().toString());
        return String.join(java.io.File.pathSeparator, entries);
    }

    private static void assumeUcx() {
        AgentProvider ucx = Backends.shared().agentProviders().stream().filter(p -> p.name().equals("ucx"))
                .findFirst().orElseThrow();
        ucx.unavailabilityCause().ifPresent(cause -> {
            String reason = "UCX is not usable here: " + cause.getMessage();
            String require = System.getProperty("kvbm.require", "") + "," + System.getenv()
                    .getOrDefault("KVBM_REQUIRE", "");
            if (List.of(require.split(",")).contains("ucx")) {
                fail(reason + " (and KVBM_REQUIRE=ucx says it must be)");
            }
            abort(reason);
        });
    }
}
