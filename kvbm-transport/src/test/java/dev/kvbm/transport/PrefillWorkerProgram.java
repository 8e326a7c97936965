package dev.kvbm.transport;

import dev.kvbm.api.LayoutConfig;
import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.AgentProvider;
import dev.kvbm.api.spi.Backends;
import dev.kvbm.api.spi.Notification;
import dev.kvbm.api.spi.StorageProvider;
import dev.kvbm.api.BlockDimension;
import dev.kvbm.layout.Layouts;
import dev.kvbm.layout.OwnedLayout;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * The prefill worker of {@link UcxTwoProcessTest}, in a process (and maybe a network namespace) of its own: a
 * {@code TransportManager} on the ucx agent with a FullyContiguous and a LayerSeparate System layout filled with
 * {@link Patterns}. Prints {@code READY <exported metadata, hex>}, then answers commands on stdin:
 * {@code CHECK <layout 0|1> <seed> <dst>:<src> ...} checks that each block {@code dst} now holds the pattern of
 * block {@code src} under {@code seed}; {@code NOTES} prints the write notifications received (waiting up to 10 s
 * for the first). Agent options come as {@code key=value} arguments.
 */
public final class PrefillWorkerProgram {
    static final LayoutConfig CONFIG = LayoutConfig.builder().numBlocks(256).numLayers(4).outerDim(2).pageSize(16)
            .innerDim(64).dtypeWidthBytes(2).build(); // 2 KiB regions, 16 KiB blocks, 4 MiB per layout
    static final long SEED_FC = 101;
    static final long SEED_LS = 202;

    private PrefillWorkerProgram() {
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> options = new HashMap<>();
        for (String arg : args) {
            String[] kv = arg.split("=", 2);
            options.put(kv[0], kv[1]);
        }
        Backends backends = Backends.shared();
        StorageProvider memory = backends.storageProvider(StorageKind.SYSTEM);
        try (TransportManager prefill = TransportManager.builder().workerId(1)
                .agentName("prefill-" + ProcessHandle.current().pid()).agentProvider("ucx")
                .agentOptions(new AgentProvider.Options(Duration.ofSeconds(10), options)).build();
             OwnedLayout fc = Layouts.builder(CONFIG).allocate(memory, StorageKind.SYSTEM);
             OwnedLayout ls = Layouts.builder(CONFIG).layerSeparate(BlockDimension.BLOCK_IS_FIRST_DIM)
                     .allocate(memory, StorageKind.SYSTEM)) {
            Patterns.fill(fc, SEED_FC);
            Patterns.fill(ls, SEED_LS);
            prefill.registerLayout(fc);
            prefill.registerLayout(ls);
            System.out.println("READY " + HexFormat.of().formatHex(prefill.exportMetadata().toBytes()));
            System.out.flush();
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            for (String line; (line = in.readLine()) != null; ) {
                String[] words = line.split(" ");
                switch (words[0]) {
                    case "CHECK" -> {
                        OwnedLayout layout = words[1].equals("0") ? fc : ls;
                        long seed = Long.parseLong(words[2]);
                        List<String> bad = new ArrayList<>();
                        for (int i = 3; i < words.length; i++) {
                            String[] pair = words[i].split(":");
                            int dst = Integer.parseInt(pair[0]);
                            int src = Integer.parseInt(pair[1]);
                            for (int l = 0; l < CONFIG.numLayers(); l++) {
                                for (int o = 0; o < CONFIG.outerDim(); o++) {
                                    if (Patterns.held(layout, dst, l, o) != Patterns.expected(seed, src, l, o, CONFIG)) {
                                        bad.add(dst + "/" + l + "/" + o);
                                    }
                                }
                            }
                        }
                        System.out.println(bad.isEmpty() ? "OK " + (words.length - 3) : "BAD " + bad);
                    }
                    case "NOTES" -> {
                        List<Notification> notes = new ArrayList<>();
                        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
                        while (notes.isEmpty() && System.nanoTime() < deadline) {
                            notes.addAll(prefill.drainNotifications());
                            Thread.sleep(5);
                        }
                        Thread.sleep(200); // a duplicate would arrive now
                        notes.addAll(prefill.drainNotifications());
                        StringBuilder out = new StringBuilder("NOTES " + notes.size());
                        for (Notification n : notes) {
                            out.append(' ').append(n.fromAgent()).append(':')
                                    .append(HexFormat.of().formatHex(n.payload()));
                        }
                        System.out.println(out);
                    }
                    default -> System.out.println("UNKNOWN " + line);
                }
                System.out.flush();
            }
        }
    }
}
