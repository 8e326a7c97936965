package dev.kvbm.tck;

import dev.kvbm.api.MemType;
import dev.kvbm.api.MemoryRegion;
import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.Agent;
import dev.kvbm.api.spi.AgentDescriptor;
import dev.kvbm.api.spi.AgentProvider;
import dev.kvbm.api.spi.AgentTransfer;
import dev.kvbm.api.spi.DescriptorList;
import dev.kvbm.api.spi.Notification;
import dev.kvbm.api.spi.Storage;
import dev.kvbm.api.spi.StorageProvider;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Rules 3.x of docs/tck-spec.md for an {@link AgentProvider}: two agents of the provider, each with registered host
 * memory from {@link #memoryProvider()}, exchange metadata and move descriptor lists both ways. A backend whose
 * agents reach peers in other processes declares {@link #canLaunchRemotePeer()} and implements
 * {@link #launchRemotePeer} to let the kit kill a peer mid-transfer.
 */
public abstract class AgentVerification {
    private static final AtomicInteger NAMES = new AtomicInteger();
    private static final int SIZE = 256 * 1024;

    private final List<AutoCloseable> resources = new ArrayList<>();

    protected abstract AgentProvider agentProvider();

    /** Host memory the agents register (DRAM). */
    protected abstract StorageProvider memoryProvider();

    /** The peer timeout the agents are created with (default 2 s). */
    protected Duration peerTimeout() {
        return Duration.ofSeconds(2);
    }

    /** Transport settings for new agents (default none). */
    protected Map<String, String> agentProperties() {
        return Map.of();
    }

    /** True when {@link #launchRemotePeer} starts a peer in another process. */
    protected boolean canLaunchRemotePeer() {
        return false;
    }

    /** A peer in another process whose agent has registered {@code size} bytes of DRAM; see rule 3.9. */
    protected RemotePeer launchRemotePeer(long size) {
        throw new UnsupportedOperationException("override launchRemotePeer with canLaunchRemotePeer");
    }

    /** A peer process started by {@link #launchRemotePeer}. */
    public interface RemotePeer extends AutoCloseable {
        /** Its agent's metadata. */
        byte[] metadata();

        /** The DRAM it registered, in its own address space. */
        MemoryRegion region();

        /** Kills the process without letting it say goodbye. */
        void kill();

        @Override
        void close();
    }

    @AfterEach
    void closeResources() throws Exception {
        for (AutoCloseable r : resources.reversed()) {
            r.close();
        }
        resources.clear();
    }

    private <T extends AutoCloseable> T track(T resource) {
        resources.add(resource);
        return resource;
    }

    private Agent agent() {
        AgentProvider p = agentProvider();
        assumeTrue(p.isAvailable(), () -> "agent provider " + p.name() + " is unavailable: "
                + p.unavailabilityCause().map(Throwable::getMessage).orElse("?"));
        StorageProvider m = memoryProvider();
        assumeTrue(m.isAvailable() && m.supports(StorageKind.SYSTEM),
                () -> "memory provider " + m.name() + " cannot allocate System memory");
        return track(p.create("tck-agent-" + ProcessHandle.current().pid() + "-" + NAMES.incrementAndGet(),
                new AgentProvider.Options(peerTimeout(), agentProperties())));
    }

    /** An agent with {@link #SIZE} bytes of registered, randomly filled memory. */
    private record Peer(Agent agent, Storage memory, byte[] bytes) {
        MemoryRegion at(long offset, long size) {
            return new MemoryRegion(memory.region().address() + offset, size);
        }
    }

    private Peer peer(long seed) {
        Agent agent = agent();
        Storage memory = track(memoryProvider().allocate(StorageKind.SYSTEM, SIZE, 4096));
        byte[] bytes = Bytes.random(new SplittableRandom(seed), SIZE);
        Bytes.write(memory, 0, bytes);
        track(agent.register(memory));
        return new Peer(agent, memory, bytes);
    }

    private static AgentTransfer transfer(AgentTransfer.Operation op, Peer local, Peer remote, byte[] notification,
                                          long[]... pieces) {
        List<AgentDescriptor> l = new ArrayList<>();
        List<AgentDescriptor> r = new ArrayList<>();
        for (long[] piece : pieces) { // {local offset, remote offset, size}
            l.add(new AgentDescriptor(local.at(piece[0], piece[2]), 0));
            r.add(new AgentDescriptor(remote.at(piece[1], piece[2]), 0));
        }
        return new AgentTransfer(op, new DescriptorList(MemType.DRAM, l), remote.agent.name(),
                new DescriptorList(MemType.DRAM, r), notification);
    }

    private void complete(CompletableFuture<Void> future, String what) throws Exception {
        try {
            future.get(peerTimeout().toMillis() + 30_000, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            fail(what + " neither completed nor failed in time");
        }
    }

    @Test
    public void required_3_1_metadataRoundTrip() {
        Peer a = peer(1);
        Peer b = peer(2);
        assertEquals(a.agent.name(), b.agent.loadRemoteMetadata(a.agent.localMetadata()),
                "loadRemoteMetadata must return the name of the agent whose metadata it loaded");
        assertEquals(b.agent.name(), a.agent.loadRemoteMetadata(b.agent.localMetadata()));
        assertEquals(b.agent.name(), a.agent.loadRemoteMetadata(b.agent.localMetadata()),
                "loading a peer's metadata again must replace it, not fail");
    }

    @Test
    public void required_3_2_writeMovesDescriptorLists() throws Exception {
        Peer a = peer(3);
        Peer b = peer(4);
        a.agent.loadRemoteMetadata(b.agent.localMetadata());
        long[][] pieces = {{0, 100_000, 4096}, {5001, 3, 777}, {60_000, 200_000, 50_001}};
        complete(a.agent.post(transfer(AgentTransfer.Operation.WRITE, a, b, null, pieces)), "a WRITE");
        assertOnlyPiecesChanged(b, a.bytes, pieces, 1, 0);
        assertArrayEquals(a.bytes, Bytes.read(a.memory, 0, SIZE), "a WRITE changed the writer's own memory");
    }

    @Test
    public void required_3_3_readMovesDescriptorLists() throws Exception {
        Peer a = peer(5);
        Peer b = peer(6);
        a.agent.loadRemoteMetadata(b.agent.localMetadata());
        long[][] pieces = {{1, 250_000, 6000}, {100_000, 0, 65_536}};
        complete(a.agent.post(transfer(AgentTransfer.Operation.READ, a, b, null, pieces)), "a READ");
        assertOnlyPiecesChanged(a, b.bytes, pieces, 0, 1);
        assertArrayEquals(b.bytes, Bytes.read(b.memory, 0, SIZE), "a READ changed the peer's memory");
    }

    /** {@code target}'s memory equals its original bytes except each piece, which holds {@code source}'s bytes. */
    private static void assertOnlyPiecesChanged(Peer target, byte[] source, long[][] pieces, int targetIndex,
                                                int sourceIndex) {
        byte[] expected = target.bytes.clone();
        for (long[] p : pieces) {
            System.arraycopy(source, (int) p[sourceIndex], expected, (int) p[targetIndex], (int) p[2]);
        }
        byte[] actual = Bytes.read(target.memory, 0, SIZE);
        int at = Arrays.mismatch(expected, actual);
        assertEquals(-1, at, () -> "byte " + at + " of the destination memory is wrong (outside or inside a piece)");
    }

    @Test
    public void required_3_4_descriptorsOutsideRegisteredMemoryAreRejected() {
        Peer a = peer(7);
        Peer b = peer(8);
        a.agent.loadRemoteMetadata(b.agent.localMetadata());
        assertRejectedByPost(() -> a.agent.post(transfer(AgentTransfer.Operation.WRITE, a, b, null,
                new long[] {0, 0, 64}, new long[] {0, SIZE - 32, 64})),
                "a remote descriptor reaching 32 bytes past the peer's registered memory");
        assertRejectedByPost(() -> a.agent.post(transfer(AgentTransfer.Operation.READ, a, b, null,
                new long[] {SIZE - 1, 0, 2})), "a local descriptor reaching 1 byte past the agent's registered memory");
        assertArrayEquals(b.bytes, Bytes.read(b.memory, 0, SIZE), "a rejected WRITE changed the peer's memory");
        assertArrayEquals(a.bytes, Bytes.read(a.memory, 0, SIZE), "a rejected READ changed local memory");
    }

    private static void assertRejectedByPost(java.util.function.Supplier<CompletableFuture<Void>> post, String what) {
        CompletableFuture<Void> accepted;
        try {
            accepted = post.get();
        } catch (IllegalArgumentException expected) {
            return;
        }
        String outcome;
        try {
            accepted.get(30, TimeUnit.SECONDS);
            outcome = "it completed";
        } catch (Exception e) {
            outcome = "its future ended with " + (e instanceof ExecutionException ? e.getCause() : e);
        }
        fail("post accepted " + what + " (" + outcome + "); it must throw IllegalArgumentException before anything"
                + " moves");
    }

    @Test
    public void required_3_5_notificationsAreDeliveredExactlyOnce() throws Exception {
        Peer a = peer(9);
        Peer b = peer(10);
        a.agent.loadRemoteMetadata(b.agent.localMetadata());
        byte[] note = {'d', 'o', 'n', 'e', 0, (byte) 0xFF};
        complete(a.agent.post(transfer(AgentTransfer.Operation.WRITE, a, b, note, new long[] {0, 0, 4096})),
                "a WRITE with a notification");
        List<Notification> received = new ArrayList<>();
        long deadline = System.nanoTime() + peerTimeout().toNanos() + TimeUnit.SECONDS.toNanos(10);
        while (received.isEmpty() && System.nanoTime() < deadline) {
            received.addAll(b.agent.drainNotifications());
            Thread.onSpinWait();
        }
        Thread.sleep(200); // a duplicate would arrive now
        received.addAll(b.agent.drainNotifications());
        assertEquals(List.of(new Notification(a.agent.name(), note)), received,
                "the peer must receive the notification exactly once, from the writer");
        assertTrue(a.agent.drainNotifications().isEmpty(), "the writer must not receive its own notification");
    }

    @Test
    public void required_3_6_anInvalidatedPeerIsRejected() {
        Peer a = peer(11);
        Peer b = peer(12);
        a.agent.loadRemoteMetadata(b.agent.localMetadata());
        a.agent.invalidateRemote(b.agent.name());
        assertThrows(IllegalArgumentException.class, () -> a.agent.post(transfer(AgentTransfer.Operation.READ, a, b,
                null, new long[] {0, 0, 64})), "a transfer naming an invalidated peer must be rejected by post");
    }

    @Test
    public void required_3_7_malformedMetadataIsRejected() {
        Peer a = peer(13);
        Peer b = peer(14);
        byte[] good = b.agent.localMetadata();
        SplittableRandom random = new SplittableRandom(37);
        List<byte[]> bad = new ArrayList<>(List.of(new byte[0], Arrays.copyOf(good, good.length / 2),
                Bytes.random(random, 3), Bytes.random(random, 64)));
        for (byte[] bytes : bad) {
            assertThrows(IllegalArgumentException.class, () -> a.agent.loadRemoteMetadata(bytes),
                    () -> "loading " + bytes.length + " bytes of malformed metadata must throw IllegalArgumentException");
        }
        for (int i = 0; i < 2000; i++) {
            byte[] mutated = good.clone();
            mutated[random.nextInt(mutated.length)] ^= (byte) (1 << random.nextInt(8));
            try {
                a.agent.loadRemoteMetadata(mutated);
            } catch (IllegalArgumentException expected) {
                // rejected, as it may be
            } catch (RuntimeException e) {
                fail("mutated metadata must load or throw IllegalArgumentException, not " + e, e);
            }
        }
    }

    @Test
    public void required_3_8_aClosedPeerFailsTransfers() throws Exception {
        Peer a = peer(15);
        Peer b = peer(16);
        a.agent.loadRemoteMetadata(b.agent.localMetadata());
        b.agent.close();
        CompletableFuture<Void> future;
        try {
            future = a.agent.post(transfer(AgentTransfer.Operation.WRITE, a, b, null, new long[] {0, 0, 4096}));
        } catch (IllegalArgumentException | IllegalStateException rejected) {
            return;
        }
        try {
            future.get(peerTimeout().toMillis() + 10_000, TimeUnit.MILLISECONDS);
            fail("a WRITE to a closed peer completed normally; it must fail");
        } catch (ExecutionException expected) {
            assertTrue(expected.getCause() != null, "the failure must carry its cause");
        } catch (TimeoutException e) {
            fail("a WRITE to a closed peer did not fail within the peer timeout " + peerTimeout() + " + 10 s");
        }
    }

    @Test
    public void optional_3_9_aDeadPeerProcessFailsPendingTransfersWithinTheTimeout() throws Exception {
        assumeTrue(canLaunchRemotePeer(), "the backend cannot launch a peer in another process"
                + " (override canLaunchRemotePeer and launchRemotePeer)");
        Peer a = peer(17);
        try (RemotePeer remote = launchRemotePeer(SIZE)) {
            String name = a.agent.loadRemoteMetadata(remote.metadata());
            remote.kill();
            AgentTransfer t = new AgentTransfer(AgentTransfer.Operation.WRITE,
                    new DescriptorList(MemType.DRAM, List.of(new AgentDescriptor(a.at(0, SIZE), 0))), name,
                    new DescriptorList(MemType.DRAM, List.of(new AgentDescriptor(remote.region(), 0))), null);
            long start = System.nanoTime();
            CompletableFuture<Void> future = a.agent.post(t);
            try {
                future.get(peerTimeout().toMillis() * 3 + 5_000, TimeUnit.MILLISECONDS);
                fail("a WRITE to a killed peer completed normally");
            } catch (ExecutionException expected) {
                long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
                assertTrue(expected.getCause() != null, "the failure must carry its cause (after " + ms + " ms)");
            } catch (TimeoutException e) {
                fail("a WRITE to a killed peer was still pending after three peer timeouts");
            }
        }
    }

    /** Posts {@code transfer}; true when post rejected it or its future failed (with a cause), false when it completed. */
    private boolean refusedOrFailed(java.util.function.Supplier<CompletableFuture<Void>> post, String what)
            throws InterruptedException {
        CompletableFuture<Void> future;
        try {
            future = post.get();
        } catch (IllegalArgumentException | IllegalStateException rejected) {
            return true;
        }
        try {
            future.get(peerTimeout().toMillis() + 30_000, TimeUnit.MILLISECONDS);
            return false;
        } catch (ExecutionException failed) {
            assertTrue(failed.getCause() != null, what + " failed without a cause");
            return true;
        } catch (TimeoutException e) {
            fail(what + " neither completed nor failed in time");
            return true;
        }
    }

    /**
     * Runs {@code task} on a new thread of its own. Not the common pool: it may have one thread on a small machine,
     * and an agent may use it for its own work, which a blocked close there would starve.
     */
    private static CompletableFuture<Void> onOwnThread(Runnable task) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        Thread thread = new Thread(() -> {
            try {
                task.run();
                done.complete(null);
            } catch (Throwable t) {
                done.completeExceptionally(t);
            }
        }, "kvbm-tck-close");
        thread.setDaemon(true);
        thread.start();
        return done;
    }

    /** Closes {@code storage} on another thread and fails the rule if close does not return in time. */
    private void closeInTime(Storage storage, String what) throws Exception {
        CompletableFuture<Void> closed = onOwnThread(storage::close);
        try {
            closed.get(peerTimeout().toMillis() + 30_000, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            fail("closing " + what + " did not return in time: close must withdraw the registration and wait only"
                    + " for transfers in flight");
        }
    }

    @Test
    public void required_3_11_closingRegisteredStorageWithdrawsItBeforeFreeing() throws Exception {
        Peer a = peer(21);
        Peer b = peer(22);
        a.agent.loadRemoteMetadata(b.agent.localMetadata());
        long before = memoryProvider().bytesOutstanding();
        closeInTime(b.memory, "storage registered with an agent (not unregistered first)");
        assertEquals(before - SIZE, memoryProvider().bytesOutstanding(),
                "closing registered storage must free it once the registration is withdrawn");
        assertTrue(refusedOrFailed(() -> a.agent.post(transfer(AgentTransfer.Operation.READ, a, b, null,
                        new long[] {0, 0, 4096})), "a READ of closed storage"),
                "a READ from a peer's storage that was closed while registered completed; it must be rejected or"
                        + " fail, never read freed memory");
        assertTrue(refusedOrFailed(() -> a.agent.post(transfer(AgentTransfer.Operation.WRITE, a, b, null,
                        new long[] {0, 0, 4096})), "a WRITE to closed storage"),
                "a WRITE to a peer's storage that was closed while registered completed; it must be rejected or"
                        + " fail, never write freed memory");
        Storage closed = memoryProvider().allocate(StorageKind.SYSTEM, 4096, 4096);
        closed.close();
        assertThrows(IllegalStateException.class, () -> b.agent.register(closed),
                "registering closed storage must throw IllegalStateException");
        Peer again = new Peer(b.agent, track(memoryProvider().allocate(StorageKind.SYSTEM, SIZE, 4096)), b.bytes);
        Bytes.write(again.memory, 0, b.bytes);
        track(b.agent.register(again.memory));
        a.agent.loadRemoteMetadata(b.agent.localMetadata());
        complete(a.agent.post(transfer(AgentTransfer.Operation.READ, a, again, null, new long[] {0, 0, SIZE})),
                "a READ of storage registered after another was closed");
        assertArrayEquals(b.bytes, Bytes.read(a.memory, 0, SIZE), "the agent must keep working after the close");
    }

    @Test
    public void required_3_12_closeRacingTransfersNeitherCrashesNorServesFreedMemory() throws Exception {
        Peer a = peer(23);
        Agent b = agent();
        long before = memoryProvider().bytesOutstanding();
        int rounds = 20;
        int transfers = 8;
        int piece = SIZE / transfers;
        for (int round = 0; round < rounds; round++) {
            Storage memory = memoryProvider().allocate(StorageKind.SYSTEM, SIZE, 4096);
            byte[] pattern = Bytes.random(new SplittableRandom(100 + round), SIZE);
            Bytes.write(memory, 0, pattern);
            b.register(memory);
            Peer target = new Peer(b, memory, pattern);
            a.agent.loadRemoteMetadata(b.localMetadata());
            Bytes.write(a.memory, 0, new byte[SIZE]);
            List<CompletableFuture<Void>> futures = new ArrayList<>();
            List<Integer> posted = new ArrayList<>();
            CompletableFuture<Void> closing = null;
            for (int i = 0; i < transfers; i++) {
                if (i == round % transfers) {
                    closing = onOwnThread(memory::close);
                }
                try {
                    futures.add(a.agent.post(transfer(AgentTransfer.Operation.READ, a, target, null,
                            new long[] {(long) i * piece, (long) i * piece, piece})));
                    posted.add(i);
                } catch (IllegalArgumentException | IllegalStateException rejected) {
                    // refused before anything moved: allowed once the close has begun
                }
            }
            for (int k = 0; k < futures.size(); k++) {
                int i = posted.get(k);
                try {
                    futures.get(k).get(peerTimeout().toMillis() + 30_000, TimeUnit.MILLISECONDS);
                    byte[] got = Bytes.read(a.memory, (long) i * piece, piece);
                    byte[] want = Arrays.copyOfRange(pattern, i * piece, (i + 1) * piece);
                    assertArrayEquals(want, got, "round " + round + ": a READ racing the close completed but did not"
                            + " deliver the bytes the storage held; it must deliver them or fail");
                } catch (ExecutionException failed) {
                    assertTrue(failed.getCause() != null, "a transfer racing a close failed without a cause");
                } catch (TimeoutException e) {
                    fail("round " + round + ": a READ racing a close neither completed nor failed in time");
                }
            }
            try {
                closing.get(peerTimeout().toMillis() + 30_000, TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                fail("round " + round + ": closing storage while transfers ran did not return in time");
            }
        }
        assertEquals(before, memoryProvider().bytesOutstanding(),
                "storage closed while transfers ran must be freed once they finished");
    }

    @Test
    public void required_3_10_closeIsIdempotentAndPostAfterCloseThrows() {
        Peer a = peer(19);
        Peer b = peer(20);
        a.agent.loadRemoteMetadata(b.agent.localMetadata());
        a.agent.close();
        a.agent.close();
        assertThrows(IllegalStateException.class, () -> a.agent.post(transfer(AgentTransfer.Operation.WRITE, a, b,
                null, new long[] {0, 0, 64})), "post after close must throw IllegalStateException");
    }
}
