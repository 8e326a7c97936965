package dev.kvbm.transport;

import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.AgentProvider;
import dev.kvbm.api.spi.Backends;
import dev.kvbm.api.spi.StorageProvider;
import dev.kvbm.api.BlockDimension;
import dev.kvbm.layout.Layouts;
import dev.kvbm.layout.OwnedLayout;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.BufferedReader;
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
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;

import static dev.kvbm.transport.PrefillWorkerProgram.CONFIG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.abort;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Two workers in two processes, each with a {@code TransportManager} on the ucx agent: the prefill worker (a child
 * JVM, {@link PrefillWorkerProgram}) exports its FullyContiguous and LayerSeparate layouts; this JVM, the decode
 * worker, imports them, READs 64 random blocks of each into its own layouts (of the other layout type), and WRITEs
 * 64 others back with a notification. Both sides verify every region by checksum. Once over UCX's own choice of
 * transports (shared memory on one host), once between two network namespaces joined by a veth pair with UCX
 * restricted to TCP on it, so that nothing crosses by shared memory.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class UcxTwoProcessTest {
    private static final long SEED_DECODE = 303;
    private static final int BLOCKS = 64;

    @Test
    void twoProcessesReadAndWriteBlocksOverUcx() throws Exception {
        assumeUcx();
        exchange(List.of(), Map.of(), Map.of());
    }

    @Test
    void twoHostsAsNetworkNamespacesOverTcpOnly() throws Exception {
        assumeUcx();
        assumeTrue("root".equals(System.getProperty("user.name")), "joining two network namespaces needs root"
                + " (ip netns add); CI runs as root");
        assumeTrue(Files.isExecutable(Path.of("/usr/sbin/ip")) || Files.isExecutable(Path.of("/sbin/ip")),
                "the ip command (Debian: iproute2) is not installed");
        String tag = Long.toString(ProcessHandle.current().pid() % 100_000);
        String ns = "kvbm-ucx-" + tag;
        String here = "kvbm0-" + tag;
        String there = "kvbm1-" + tag;
        try {
            ip("netns", "add", ns);
            ip("link", "add", here, "type", "veth", "peer", "name", there);
            ip("link", "set", there, "netns", ns);
            ip("addr", "add", "10.213.0.1/24", "dev", here);
            ip("link", "set", here, "up");
            ip("netns", "exec", ns, "ip", "addr", "add", "10.213.0.2/24", "dev", there);
            ip("netns", "exec", ns, "ip", "link", "set", there, "up");
            ip("netns", "exec", ns, "ip", "link", "set", "lo", "up");
            exchange(List.of("ip", "netns", "exec", ns),
                    Map.of("ucx.TLS", "tcp", "ucx.NET_DEVICES", here),
                    Map.of("ucx.TLS", "tcp", "ucx.NET_DEVICES", there));
        } finally {
            new ProcessBuilder("ip", "netns", "del", ns).inheritIO().start().waitFor(30, TimeUnit.SECONDS);
            new ProcessBuilder("ip", "link", "del", here).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start().waitFor(30, TimeUnit.SECONDS);
        }
    }

    @Test
    void metadataOfOneAgentKindImportedByAWorkerOfAnotherNamesBoth() {
        assumeUcx();
        try (TransportManager local = TransportManager.builder().workerId(11).agentProvider("local").build();
             TransportManager ucx = TransportManager.builder().workerId(12).agentProvider("ucx").build()) {
            SerializedLayout fromLocal = local.exportMetadata();
            SerializedLayout fromUcx = ucx.exportMetadata();
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> ucx.importMetadata(fromLocal))
                    .isInstanceOf(dev.kvbm.api.InvalidMetadataException.class)
                    .hasMessageContaining("metadata of a local agent").hasMessageContaining("not of a ucx agent");
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> local.importMetadata(fromUcx))
                    .isInstanceOf(dev.kvbm.api.InvalidMetadataException.class)
                    .hasMessageContaining("metadata of a ucx agent").hasMessageContaining("not of a local agent");
            assertThat(ucx.remoteHandles()).isEmpty();
            assertThat(local.remoteHandles()).isEmpty();
        }
    }

    @Test
    void aWorkerToldNoAgentTakesTheOneThatReachesOtherProcesses() {
        assumeUcx();
        try (TransportManager m = TransportManager.builder().workerId(13).build()) {
            byte[] blob = m.exportMetadata().unpack().nixlMetadata();
            assertThat(new String(blob, 0, 4, StandardCharsets.US_ASCII)).as("the ucx agent's metadata magic")
                    .isEqualTo("KUX1");
        }
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

    private static void ip(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("ip"));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
            fail(String.join(" ", command) + " failed: " + out);
        }
    }

    private void exchange(List<String> prefix, Map<String, String> decodeOptions, Map<String, String> prefillOptions)
            throws Exception {
        StorageProvider memory = Backends.shared().storageProvider(StorageKind.SYSTEM);
        try (Child prefill = Child.start(prefix, prefillOptions);
             TransportManager decode = TransportManager.builder().workerId(2)
                     .agentName("decode-" + ProcessHandle.current().pid()).agentProvider("ucx")
                     .agentOptions(new AgentProvider.Options(Duration.ofSeconds(10), decodeOptions)).build();
             OwnedLayout fc = Layouts.builder(CONFIG).allocate(memory, StorageKind.SYSTEM);
             OwnedLayout ls = Layouts.builder(CONFIG).layerSeparate(BlockDimension.BLOCK_IS_SECOND_DIM)
                     .allocate(memory, StorageKind.SYSTEM)) {
            Patterns.fill(fc, SEED_DECODE);
            Patterns.fill(ls, SEED_DECODE + 1);
            LayoutHandle myFc = decode.registerLayout(fc);
            LayoutHandle myLs = decode.registerLayout(ls);
            List<LayoutHandle> theirs = decode.importMetadata(SerializedLayout.fromBytes(prefill.metadata));
            assertThat(theirs).hasSize(2);
            LayoutHandle theirFc = theirs.get(0);
            LayoutHandle theirLs = theirs.get(1);
            SplittableRandom random = new SplittableRandom(42);

            // READ: their FullyContiguous blocks into our LayerSeparate layout, their LayerSeparate into our FC.
            int[] src = distinct(random);
            int[] dst = distinct(random);
            decode.executeTransfer(theirFc, src, myLs, dst).get(60, TimeUnit.SECONDS);
            assertHolds(ls, dst, src, PrefillWorkerProgram.SEED_FC);
            int[] src2 = distinct(random);
            int[] dst2 = distinct(random);
            decode.executeTransfer(theirLs, src2, myFc, dst2).get(60, TimeUnit.SECONDS);
            assertHolds(fc, dst2, src2, PrefillWorkerProgram.SEED_LS);

            // WRITE: 64 blocks of a freshly filled LS layout of ours into their FC, with a notification.
            Patterns.fill(ls, SEED_DECODE + 2);
            int[] from = distinct(random);
            int[] to = distinct(random);
            byte[] note = "64 blocks written".getBytes(StandardCharsets.UTF_8);
            decode.executeTransfer(myLs, from, theirFc, to, TransferOptions.builder().writeNotification(note).build())
                    .get(60, TimeUnit.SECONDS);
            StringBuilder check = new StringBuilder("CHECK 0 " + (SEED_DECODE + 2));
            for (int i = 0; i < BLOCKS; i++) {
                check.append(' ').append(to[i]).append(':').append(from[i]);
            }
            assertThat(prefill.ask(check.toString())).isEqualTo("OK " + BLOCKS);
            assertThat(prefill.ask("NOTES")).isEqualTo("NOTES 1 " + decode.agentName() + ":"
                    + HexFormat.of().formatHex(note));
        }
    }

    private static int[] distinct(SplittableRandom random) {
        List<Integer> all = new ArrayList<>(IntStream.range(0, CONFIG.numBlocks()).boxed().toList());
        java.util.Collections.shuffle(all, new java.util.Random(random.nextLong()));
        return all.subList(0, BLOCKS).stream().mapToInt(Integer::intValue).toArray();
    }

    private static void assertHolds(OwnedLayout layout, int[] dst, int[] src, long seed) {
        for (int i = 0; i < dst.length; i++) {
            for (int l = 0; l < CONFIG.numLayers(); l++) {
                for (int o = 0; o < CONFIG.outerDim(); o++) {
                    assertThat(Patterns.held(layout, dst[i], l, o))
                            .as("block %d (layer %d, outer %d) must hold source block %d", dst[i], l, o, src[i])
                            .isEqualTo(Patterns.expected(seed, src[i], l, o, CONFIG));
                }
            }
        }
    }

    /** The prefill worker's JVM, spoken to over its stdin and stdout. */
    private static final class Child implements AutoCloseable {
        private final Process process;
        private final BufferedReader out;
        private final PrintWriter in;
        private final Path log;
        final byte[] metadata;

        private Child(Process process, Path log) throws IOException {
            this.process = process;
            this.log = log;
            this.out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
            this.in = new PrintWriter(process.getOutputStream(), true, StandardCharsets.UTF_8);
            String ready = out.readLine();
            if (ready == null || !ready.startsWith("READY ")) {
                process.destroyForcibly();
                throw new IllegalStateException("prefill worker did not start: " + ready + "\n"
                        + Files.readString(log));
            }
            this.metadata = HexFormat.of().parseHex(ready.substring("READY ".length()));
        }

        static Child start(List<String> prefix, Map<String, String> options) throws IOException {
            List<String> command = new ArrayList<>(prefix);
            command.addAll(List.of(ChildJvm.java(), "--enable-native-access=ALL-UNNAMED",
                    "--illegal-native-access=deny", "-cp", ChildJvm.classPath(), PrefillWorkerProgram.class.getName()));
            options.forEach((k, v) -> command.add(k + "=" + v));
            Path log = Files.createTempFile("kvbm-prefill", ".log");
            return new Child(new ProcessBuilder(command).redirectError(log.toFile()).start(), log);
        }

        String ask(String command) throws IOException {
            in.println(command);
            String answer = out.readLine();
            if (answer == null) {
                throw new IllegalStateException("prefill worker exited: " + Files.readString(log));
            }
            return answer;
        }

        @Override
        public void close() throws Exception {
            in.close();
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
            Files.deleteIfExists(log);
        }
    }
}
