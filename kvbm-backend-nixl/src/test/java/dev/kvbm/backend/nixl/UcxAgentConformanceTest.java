package dev.kvbm.backend.nixl;

import dev.kvbm.api.MemoryRegion;
import dev.kvbm.api.spi.AgentProvider;
import dev.kvbm.api.spi.StorageProvider;
import dev.kvbm.tck.AgentVerification;
import org.junit.jupiter.api.BeforeEach;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The {@code ucx} agent against the kit's agent rules, rule 3.9 included: its remote peer is a second JVM that the
 * kit kills mid-transfer.
 */
class UcxAgentConformanceTest extends AgentVerification {
    private static final AtomicInteger PEERS = new AtomicInteger();

    @BeforeEach
    void requireUcx() {
        Ucx.assumeAvailable();
    }

    @Override
    protected AgentProvider agentProvider() {
        return Ucx.PROVIDER;
    }

    @Override
    protected StorageProvider memoryProvider() {
        return Ucx.MEMORY;
    }

    @Override
    protected boolean canLaunchRemotePeer() {
        return true;
    }

    @Override
    protected RemotePeer launchRemotePeer(long size) {
        PeerProcess peer;
        try {
            peer = PeerProcess.start("tck-remote-" + ProcessHandle.current().pid() + "-" + PEERS.incrementAndGet(),
                    size, 7);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new RemotePeer() {
            @Override
            public byte[] metadata() {
                return peer.metadata();
            }

            @Override
            public MemoryRegion region() {
                return peer.region();
            }

            @Override
            public void kill() {
                peer.kill();
            }

            @Override
            public void close() {
                peer.close();
            }
        };
    }
}
