package dev.kvbm.manager;

import dev.kvbm.api.spi.AgentProvider;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The owner of {@link RemotePullTwoProcessTest}, in a process (and maybe a network namespace) of its own: a
 * {@link KvBlockManager} on the {@code ucx} agent (options as {@code key=value} arguments) with a small G1. Prints
 * {@code READY <its exported block sets, hex>}; on {@code RUN} it prefills request after request, evicting as it
 * goes, and prints {@code AT <request> <index> <block id>} for every block it registers (the directory a reader
 * learns from, always a little out of date); on {@code STOP} (or the end of its input) it stops, prints
 * {@code DONE <requests>} and exits.
 */
public final class RemoteOwnerProgram {
    static final ModelShape SHAPE = new ModelShape(4, 2, 4, 1024, 2); // 64 KiB blocks
    static final int BLOCKS = 32;
    static final int REQUEST = 4;

    private RemoteOwnerProgram() {
    }

    /** The tokens of request {@code r}: the owner and the reader build the same sequence from its number. */
    static TokenBlockSequence request(int r) {
        return TokenBlockSequence.of(Kv.tokens(r * REQUEST * SHAPE.pageSize(), REQUEST * SHAPE.pageSize()),
                SHAPE.pageSize(), KvBlockManagerTest.SALT);
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> options = new LinkedHashMap<>();
        for (String arg : args) {
            String[] kv = arg.split("=", 2);
            options.put(kv[0], kv[1]);
        }
        PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
        try (KvBlockManager owner = KvBlockManager.builder().model(SHAPE).agent("ucx").workerId(1)
                .agentOptions(new AgentProvider.Options(Duration.ofSeconds(10), options))
                .tier(Tier.G1, TierSpec.blocks(BLOCKS)).build()) {
            out.println("READY " + HexFormat.of().formatHex(owner.exportBlockSets().toBytes()));
            out.flush();
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            if (!"RUN".equals(in.readLine())) {
                return;
            }
            AtomicBoolean stop = new AtomicBoolean();
            Thread watcher = new Thread(() -> {
                try {
                    while (true) {
                        String line = in.readLine();
                        if (line == null || line.equals("STOP")) {
                            break;
                        }
                    }
                } catch (java.io.IOException e) {
                    // the reader is gone: stop
                }
                stop.set(true);
            });
            watcher.setDaemon(true);
            watcher.start();
            int r = 0;
            for (; !stop.get(); r++) {
                List<ImmutableBlock> blocks = Kv.prefill(owner, request(r));
                for (int i = 0; i < blocks.size(); i++) {
                    out.println("AT " + r + " " + i + " " + blocks.get(i).blockId());
                }
                out.flush();
                KvBlockManager.release(blocks);
                Thread.sleep(1); // a request a millisecond or so: a pool turns over in about 10 ms
            }
            out.println("DONE " + r);
            out.flush();
        }
    }
}
