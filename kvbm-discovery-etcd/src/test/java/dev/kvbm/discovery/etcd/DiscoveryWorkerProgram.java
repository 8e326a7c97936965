package dev.kvbm.discovery.etcd;

import dev.kvbm.api.LayoutConfig;
import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.Backends;
import dev.kvbm.api.spi.Discovery;
import dev.kvbm.api.spi.DiscoveryProvider;
import dev.kvbm.layout.Layouts;
import dev.kvbm.layout.OwnedLayout;
import dev.kvbm.transport.LayoutHandle;
import dev.kvbm.transport.PeerDiscovery;
import dev.kvbm.transport.TransportManager;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A worker of {@link DiscoveryMembershipTest}, in a process of its own: a {@code TransportManager} on the ucx agent
 * with one System layout, published through discovery ({@code args: workerId provider endpoints namespace ttlMs}).
 * Prints each membership line of {@link PeerDiscovery} as {@code EVENT <line>}; after a worker leaves it tries a
 * transfer into that worker's layout and prints {@code TRANSFER <exception message>} (or {@code TRANSFER ok}).
 */
public final class DiscoveryWorkerProgram {
    static final LayoutConfig CONFIG = LayoutConfig.builder().numBlocks(8).numLayers(2).outerDim(2).pageSize(16)
            .innerDim(64).dtypeWidthBytes(2).build();

    private DiscoveryWorkerProgram() {
    }

    public static void main(String[] args) throws Exception {
        long workerId = Long.parseLong(args[0]);
        DiscoveryProvider provider = DiscoveryProvider.named(args[1]);
        DiscoveryProvider.Options options = DiscoveryProvider.Options.of(args[3], args[2])
                .withTtl(Duration.ofMillis(Long.parseLong(args[4])));
        Map<Long, LayoutHandle> peerLayouts = new ConcurrentHashMap<>();
        try (TransportManager manager = TransportManager.builder().workerId(workerId)
                .agentName("worker-" + workerId + "-" + ProcessHandle.current().pid()).agentProvider("ucx").build();
             OwnedLayout layout = Layouts.builder(CONFIG).allocate(Backends.shared().storageProvider(StorageKind.SYSTEM),
                     StorageKind.SYSTEM);
             Discovery discovery = provider.connect(options)) {
            LayoutHandle mine = manager.registerLayout(layout);
            try (PeerDiscovery peers = PeerDiscovery.start(manager, discovery, line -> {
                System.out.println("EVENT " + line);
                String[] words = line.split(" ");
                long id = Long.parseUnsignedLong(words[1]);
                if (words[0].equals("joined") || words[0].equals("changed")) {
                    manager.remoteHandles().stream().filter(h -> h.workerId() == id).findFirst()
                            .ifPresent(h -> peerLayouts.put(id, h));
                } else if (words[0].equals("left")) {
                    LayoutHandle theirs = peerLayouts.remove(id);
                    String outcome;
                    try {
                        manager.executeTransfer(mine, new int[] {0}, theirs, new int[] {0}).join();
                        outcome = "ok";
                    } catch (RuntimeException e) {
                        outcome = e.getMessage();
                    }
                    System.out.println("TRANSFER " + outcome);
                }
                System.out.flush();
            })) {
                System.out.println("READY " + List.of(mine));
                System.out.flush();
                Thread.sleep(Long.MAX_VALUE);
            }
        }
    }
}
