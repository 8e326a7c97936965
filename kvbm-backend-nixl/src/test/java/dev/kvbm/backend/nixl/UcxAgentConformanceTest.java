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

    /** The fleet's secret of this run, or null for the trusted-network mode. */
    protected String secret() {
        return null;
    }

    @BeforeEach
    void requireUcx() {
        Ucx.assumeAvailable();
    }

    @Override
    protected AgentProvider agentProvider() {
        String secret = secret();
        return secret == null ? Ucx.PROVIDER : new SecretGiving(secret);
    }

    /** The ucx provider, every agent given the fleet's secret as an agent option. */
    private static final class SecretGiving implements AgentProvider {
        private final String secret;

        SecretGiving(String secret) {
            this.secret = secret;
        }

        @Override
        public String name() {
            return Ucx.PROVIDER.name();
        }

        @Override
        public String backend() {
            return Ucx.PROVIDER.backend();
        }

        @Override
        public java.util.Optional<Throwable> unavailabilityCause() {
            return Ucx.PROVIDER.unavailabilityCause();
        }

        @Override
        public boolean reachesOtherProcesses() {
            return true;
        }

        @Override
        public dev.kvbm.api.spi.Agent create(String agentName, Options options) {
            java.util.Map<String, String> with = new java.util.HashMap<>(options.properties());
            with.put("secret", secret);
            return Ucx.PROVIDER.create(agentName, new Options(options.peerTimeout(), with));
        }
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
                    size, 7, null, secret());
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
