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
 * The target process of {@link UcxRatios}: a ucx agent with {@code args[0]} bytes of registered host memory from the
 * storage provider named {@code args[1]}, or, for {@code manager}, a {@code KvBlockManager} on the ucx agent whose G2
 * tier is that many bytes (its memory the manager's own choice). Prints {@code READY <metadata hex> <address>
 * <provider>} and serves until its standard input closes.
 */
public final class UcxBenchPeer {
    private UcxBenchPeer() {
    }

    public static void main(String[] args) throws Exception {
        long size = Long.parseLong(args[0]);
        Backends backends = Backends.shared();
        if (args[1].equals(UcxRatios.MANAGER)) {
            try (dev.kvbm.manager.KvBlockManager kvbm = UcxRatios.manager(dev.kvbm.manager.Tier.G2, size,
                    Map.of())) {
                var g2 = kvbm.layout(dev.kvbm.manager.Tier.G2).storage();
                System.out.println("READY " + HexFormat.of().formatHex(kvbm.transport().agent().orElseThrow()
                        .localMetadata()) + " " + g2.region().address() + " "
                        + kvbm.storageProvider(dev.kvbm.manager.Tier.G2));
                System.out.flush();
                while (System.in.read() >= 0) {
                    // serve until the initiator closes our stdin
                }
            }
            return;
        }
        try (Agent agent = backends.agentProvider("ucx").create("bench-target-" + ProcessHandle.current().pid(),
                new AgentProvider.Options(Duration.ofSeconds(30), Map.of()));
             Storage memory = UcxRatios.provider(backends, args[1]).allocate(StorageKind.SYSTEM, size)) {
            agent.register(memory);
            System.out.println("READY " + HexFormat.of().formatHex(agent.localMetadata()) + " "
                    + memory.region().address() + " " + args[1]);
            System.out.flush();
            while (System.in.read() >= 0) {
                // serve until the initiator closes our stdin
            }
        }
    }
}
