package dev.kvbm.backend.nixl;

import dev.kvbm.api.MemType;
import dev.kvbm.api.MemoryRegion;
import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.Agent;
import dev.kvbm.api.spi.AgentDescriptor;
import dev.kvbm.api.spi.AgentProvider;
import dev.kvbm.api.spi.AgentTransfer;
import dev.kvbm.api.spi.DescriptorList;
import dev.kvbm.api.spi.HostStorage;
import dev.kvbm.api.spi.Storage;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Peers that die mid-transfer, 50 times over: each cycle opens an agent, starts large READs and WRITEs from a
 * peer JVM, kills the peer (SIGKILL) while they run, and closes the agent. Every future must end within the peer
 * timeout (plus slack), the JVM must not abort, and nothing may stay registered or allocated. Then a peer that
 * restarts under the same name with new metadata is loaded again by an agent that saw its predecessor die, and a
 * transfer to it verifies byte for byte.
 */
@Timeout(value = 8, unit = TimeUnit.MINUTES)
class UcxPeerFaultTest {
    private static final Duration PEER_TIMEOUT = Duration.ofSeconds(2);
    private static final long SIZE = 16L << 20;
    private static final long PIECE = 64 << 10;

    @BeforeEach
    void requireUcx() {
        Ucx.assumeAvailable();
    }

    @Test
    void fiftyPeersKilledMidTransferFailTheirTransfersAndLeaveNothingBehind() throws Exception {
        long memoryBefore = Ucx.MEMORY.bytesOutstanding();
        SplittableRandom random = new SplittableRandom(9);
        int failed = 0;
        int completed = 0;
        for (int cycle = 0; cycle < 50; cycle++) {
            try (PeerProcess peer = PeerProcess.start("fault-peer-" + cycle, SIZE, cycle);
                 Storage memory = Ucx.MEMORY.allocate(StorageKind.SYSTEM, SIZE, 4096)) {
                Agent agent = Ucx.PROVIDER.create("fault-agent-" + cycle, new AgentProvider.Options(PEER_TIMEOUT,
                        Map.of()));
                try {
                    agent.register(memory);
                    String name = agent.loadRemoteMetadata(peer.metadata());
                    List<CompletableFuture<Void>> futures = new ArrayList<>();
                    long killAfter = System.nanoTime() + TimeUnit.MICROSECONDS.toNanos(random.nextInt(20_000));
                    boolean killed = false;
                    while (!killed) {
                        AgentTransfer.Operation op = futures.size() % 2 == 0 ? AgentTransfer.Operation.READ
                                : AgentTransfer.Operation.WRITE;
                        futures.add(postOrFail(agent, pieces(op, memory.region(), peer.region(), name)));
                        if (System.nanoTime() >= killAfter || futures.size() >= 64) {
                            peer.kill();
                            killed = true;
                        }
                    }
                    futures.add(postOrFail(agent, pieces(AgentTransfer.Operation.READ, memory.region(), peer.region(),
                            name)));
                    for (CompletableFuture<Void> f : futures) {
                        try {
                            f.get(PEER_TIMEOUT.toMillis() + 10_000, TimeUnit.MILLISECONDS);
                            completed++;
                        } catch (ExecutionException e) {
                            assertThat(e.getCause()).as("a failed transfer carries its cause").isNotNull();
                            failed++;
                        } catch (TimeoutException e) {
                            fail("cycle " + cycle + ": a transfer to a killed peer neither completed nor failed within"
                                    + " the peer timeout " + PEER_TIMEOUT + " + 10 s");
                        }
                    }
                    assertThat(futures.getLast()).as("a transfer posted after the kill").isCompletedExceptionally();
                } finally {
                    agent.close();
                }
            }
        }
        assertThat(failed).as("transfers that failed (%d completed before the kill)", completed).isGreaterThanOrEqualTo(50);
        assertThat(UcxAgent.MAPPED.get()).as("UCX registrations left").isZero();
        assertThat(UcxAgent.OPEN.get()).as("agents whose worker and context are left").isZero();
        assertThat(Ucx.MEMORY.bytesOutstanding()).as("host memory left").isEqualTo(memoryBefore);
    }

    @Test
    void aPeerRestartedWithNewMetadataIsLoadedAgainAndServes() throws Exception {
        try (Storage memory = Ucx.MEMORY.allocate(StorageKind.SYSTEM, SIZE, 4096);
             Agent agent = Ucx.PROVIDER.create("restart-agent", new AgentProvider.Options(PEER_TIMEOUT, Map.of()))) {
            agent.register(memory);
            String name;
            try (PeerProcess first = PeerProcess.start("restarting-peer", SIZE, 1)) {
                name = agent.loadRemoteMetadata(first.metadata());
                first.kill();
                CompletableFuture<Void> lost = postOrFail(agent, pieces(AgentTransfer.Operation.READ, memory.region(),
                        first.region(), name));
                try {
                    lost.get(PEER_TIMEOUT.toMillis() + 10_000, TimeUnit.MILLISECONDS);
                    fail("a READ from a killed peer completed");
                } catch (ExecutionException expected) {
                    assertThat(expected.getCause()).isNotNull();
                }
            }
            try (PeerProcess second = PeerProcess.start("restarting-peer", SIZE, 2)) {
                assertThat(agent.loadRemoteMetadata(second.metadata())).isEqualTo(name);
                agent.post(pieces(AgentTransfer.Operation.READ, memory.region(), second.region(), name))
                        .get(30, TimeUnit.SECONDS);
                MemorySegment bytes = ((HostStorage) memory).segment();
                for (long i = 0; i < SIZE; i += 4093) {
                    boolean moved = (i / PIECE) % 2 == 0; // pieces() moves every other 64 KiB piece
                    if (moved) {
                        assertThat(bytes.get(ValueLayout.JAVA_BYTE, i)).as("byte %d", i)
                                .isEqualTo((byte) (i * 31 + 2));
                    }
                }
            }
        }
    }

    /**
     * A peer that read this agent's memory dies, and nothing tells the agent (no discovery, no
     * {@code invalidateRemote}): its withdrawals must still end, without waiting for the peer timeout, and without
     * touching what UCX tore down when it saw the peer go (a withdrawal used to write to the dead peer's reply
     * endpoint: SIGSEGV). The kill lands at different moments: before UCX can notice, and after.
     */
    @Test
    void aReaderKilledWithoutDiscoveryLetsTheAgentWithdrawItsMemory() throws Exception {
        Duration longTimeout = Duration.ofSeconds(60); // a withdrawal that waited for it would fail the 30 s below
        long memoryBefore = Ucx.MEMORY.bytesOutstanding();
        int[] delaysMillis = {0, 20, 200, 1500};
        for (int cycle = 0; cycle < delaysMillis.length * 2; cycle++) {
            Agent agent = Ucx.PROVIDER.create("withdrawing-agent-" + cycle, new AgentProvider.Options(longTimeout,
                    Map.of()));
            try (Storage first = Ucx.MEMORY.allocate(StorageKind.SYSTEM, 1 << 20, 4096);
                 Storage second = Ucx.MEMORY.allocate(StorageKind.SYSTEM, 1 << 20, 4096)) {
                agent.register(first);
                agent.register(second);
                try (PeerProcess reader = PeerProcess.start("reader-" + cycle, 4096, cycle, agent.localMetadata())) {
                    reader.kill();
                    Thread.sleep(delaysMillis[cycle % delaysMillis.length]);
                    CompletableFuture<Void> withdrawn = CompletableFuture.runAsync(first::close);
                    try {
                        withdrawn.get(30, TimeUnit.SECONDS);
                    } catch (TimeoutException e) {
                        fail("cycle " + cycle + ": withdrawing memory a killed reader had attached to did not end"
                                + " within 30 s (the peer timeout is " + longTimeout + ")");
                    }
                }
            } finally {
                CompletableFuture<Void> closed = CompletableFuture.runAsync(agent::close);
                closed.get(30, TimeUnit.SECONDS); // the agent's own close withdraws the second storage
            }
        }
        assertThat(UcxAgent.MAPPED.get()).as("UCX registrations left").isZero();
        assertThat(UcxAgent.OPEN.get()).as("agents whose worker and context are left").isZero();
        assertThat(Ucx.MEMORY.bytesOutstanding()).as("host memory left").isEqualTo(memoryBefore);
    }

    /**
     * A reader that dies and comes back under the same name attaches again: the agent answers the new one (its
     * answer to the dead one is closed), and the new one confirms a withdrawal, so it ends without the peer timeout.
     */
    @Test
    void aReaderThatRestartsUnderItsNameIsAnsweredAndConfirmsWithdrawals() throws Exception {
        Duration longTimeout = Duration.ofSeconds(60);
        Agent agent = Ucx.PROVIDER.create("restarted-reader-target", new AgentProvider.Options(longTimeout, Map.of()));
        try (Storage first = Ucx.MEMORY.allocate(StorageKind.SYSTEM, 1 << 20, 4096);
             Storage second = Ucx.MEMORY.allocate(StorageKind.SYSTEM, 1 << 20, 4096)) {
            agent.register(first);
            agent.register(second);
            try (PeerProcess dead = PeerProcess.start("restarting-reader", 4096, 1, agent.localMetadata())) {
                dead.kill();
            }
            try (PeerProcess reader = PeerProcess.start("restarting-reader", 4096, 2, agent.localMetadata())) {
                CompletableFuture<Void> withdrawn = CompletableFuture.runAsync(first::close);
                try {
                    withdrawn.get(30, TimeUnit.SECONDS);
                } catch (TimeoutException e) {
                    fail("the restarted reader did not confirm a withdrawal within 30 s (the peer timeout is "
                            + longTimeout + ")");
                }
                assertThat(reader.isAlive()).as("the restarted reader, still serving").isTrue();
            }
        } finally {
            CompletableFuture.runAsync(agent::close).get(30, TimeUnit.SECONDS);
        }
        assertThat(UcxAgent.MAPPED.get()).as("UCX registrations left").isZero();
    }

    /** The whole of both regions, as 64 KiB pieces (many operations in flight). */
    private static AgentTransfer pieces(AgentTransfer.Operation op, MemoryRegion local, MemoryRegion remote,
                                        String peer) {
        List<AgentDescriptor> l = new ArrayList<>();
        List<AgentDescriptor> r = new ArrayList<>();
        // Every other piece, so adjacent ones are not coalesced into one operation.
        for (long offset = 0; offset + PIECE <= SIZE; offset += 2 * PIECE) {
            l.add(new AgentDescriptor(new MemoryRegion(local.address() + offset, PIECE), 0));
            r.add(new AgentDescriptor(new MemoryRegion(remote.address() + offset, PIECE), 0));
        }
        return new AgentTransfer(op, new DescriptorList(MemType.DRAM, l), peer, new DescriptorList(MemType.DRAM, r),
                null);
    }

    private static CompletableFuture<Void> postOrFail(Agent agent, AgentTransfer t) {
        try {
            return agent.post(t);
        } catch (IllegalStateException | IllegalArgumentException refused) {
            return CompletableFuture.failedFuture(refused);
        }
    }
}
