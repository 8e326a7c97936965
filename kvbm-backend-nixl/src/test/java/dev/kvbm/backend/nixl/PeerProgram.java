package dev.kvbm.backend.nixl;

import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.Agent;
import dev.kvbm.api.spi.AgentProvider;
import dev.kvbm.api.spi.Backends;
import dev.kvbm.api.spi.Storage;
import dev.kvbm.api.spi.HostStorage;

import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Map;
import java.util.Set;

/**
 * A peer in a process of its own, for tests that kill it: a ucx agent with {@code args[1]} bytes of registered
 * host memory, each byte {@code (i * 31 + seed) & 0xFF} with seed {@code args[2]}. It prints
 * {@code READY <metadata hex> <address> <size>} and then serves until its standard input closes. With a fourth
 * argument, another agent's metadata in hex, it first loads that metadata (attaches to that agent, as a reader of
 * its memory does) before it says READY.
 */
public final class PeerProgram {
    private PeerProgram() {
    }

    public static void main(String[] args) throws Exception {
        String name = args[0];
        long size = Long.parseLong(args[1]);
        int seed = Integer.parseInt(args[2]);
        var memory = Backends.load(PeerProgram.class.getClassLoader(), Set.of("system-memory"))
                .storageProvider(StorageKind.SYSTEM);
        try (Agent agent = new UcxAgentProvider().create(name, new AgentProvider.Options(Duration.ofSeconds(5),
                Map.of()));
             Storage storage = memory.allocate(StorageKind.SYSTEM, size, 4096)) {
            var segment = ((HostStorage) storage).segment();
            for (long i = 0; i < size; i++) {
                segment.set(ValueLayout.JAVA_BYTE, i, (byte) (i * 31 + seed));
            }
            agent.register(storage);
            if (args.length > 3) {
                agent.loadRemoteMetadata(HexFormat.of().parseHex(args[3]));
            }
            System.out.println("READY " + HexFormat.of().formatHex(agent.localMetadata()) + " "
                    + storage.region().address() + " " + size);
            System.out.flush();
            while (System.in.read() >= 0) {
                // serve until the parent closes our stdin (or kills us)
            }
        }
    }
}
