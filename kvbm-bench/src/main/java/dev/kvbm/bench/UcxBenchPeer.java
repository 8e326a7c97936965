package dev.kvbm.bench;

import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.Agent;
import dev.kvbm.api.spi.AgentProvider;
import dev.kvbm.api.spi.Backends;
import dev.kvbm.api.spi.Storage;

import java.time.Duration;
import java.util.HexFormat;
import java.util.Map;

/**
 * The target process of {@link UcxRatios}: a ucx agent with {@code args[0]} bytes of registered host memory from the storage provider named {@code args[1]}. Prints
 * {@code READY <metadata hex> <address>} and serves until its standard input closes.
 */
public final class UcxBenchPeer {
    private UcxBenchPeer() {
    }

    public static void main(String[] args) throws Exception {
        long size = Long.parseLong(args[0]);
        Backends backends = Backends.shared();
        try (Agent agent = backends.agentProvider("ucx").create("bench-target-" + ProcessHandle.current().pid(),
                new AgentProvider.Options(Duration.ofSeconds(30), Map.of()));
             Storage memory = UcxRatios.provider(backends, args[1]).allocate(StorageKind.SYSTEM, size)) {
            agent.register(memory);
            System.out.println("READY " + HexFormat.of().formatHex(agent.localMetadata()) + " "
                    + memory.region().address());
            System.out.flush();
            while (System.in.read() >= 0) {
                // serve until the initiator closes our stdin
            }
        }
    }
}
