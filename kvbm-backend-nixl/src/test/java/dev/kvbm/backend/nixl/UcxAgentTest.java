package dev.kvbm.backend.nixl;

import dev.kvbm.api.MemType;
import dev.kvbm.api.MemoryRegion;
import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.Agent;
import dev.kvbm.api.spi.AgentDescriptor;
import dev.kvbm.api.spi.AgentProvider;
import dev.kvbm.api.spi.AgentTransfer;
import dev.kvbm.api.spi.DescriptorList;
import dev.kvbm.api.spi.Lifetime;
import dev.kvbm.api.spi.Storage;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Behaviour of the ucx agent beyond the kit's rules, between two agents of this JVM over real UCX. */
class UcxAgentTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(5);
    private final List<AutoCloseable> resources = new ArrayList<>();

    @BeforeEach
    void requireUcx() {
        Ucx.assumeAvailable();
    }

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable r : resources.reversed()) {
            r.close();
        }
    }

    private Agent agent(String name) {
        Agent a = Ucx.PROVIDER.create(name, new AgentProvider.Options(TIMEOUT, Map.of()));
        resources.add(a);
        return a;
    }

    private static final String SECRET = "the test fleet's cluster secret";

    private Agent agent(String name, Map<String, String> options) {
        Agent a = Ucx.PROVIDER.create(name, new AgentProvider.Options(TIMEOUT, options));
        resources.add(a);
        return a;
    }

    private static AgentTransfer write(Storage local, Storage remote, long size, String peer, byte[] note) {
        return new AgentTransfer(AgentTransfer.Operation.WRITE,
                new DescriptorList(MemType.DRAM, List.of(new AgentDescriptor(
                        new MemoryRegion(local.region().address(), size), 0))), peer,
                new DescriptorList(MemType.DRAM, List.of(new AgentDescriptor(
                        new MemoryRegion(remote.region().address(), size), 0))), note);
    }

    @Test
    void agentsWithTheFleetsSecretWorkTogetherAndRefuseEveryOtherKindOfPeerBeforeUcxSeesItsMetadata()
            throws Exception {
        Agent a = agent("auth-a", Map.of("secret", SECRET));
        Agent b = agent("auth-b", Map.of("secret", SECRET));
        Agent open = agent("auth-open", Map.of());
        Agent stranger = agent("auth-stranger", Map.of("secret", "another fleet's secret entirely"));
        Storage mine = memory(1 << 16);
        Storage theirs = memory(1 << 16);
        a.register(mine);
        b.register(theirs);
        String peer = a.loadRemoteMetadata(b.localMetadata());
        a.post(read(mine, 0, theirs, 0, 4096, peer)).get(10, TimeUnit.SECONDS);
        byte[] note = "blocks ready".getBytes();
        a.post(write(mine, theirs, 4096, peer, note)).get(10, TimeUnit.SECONDS);
        assertThat(b.drainNotifications()).containsExactly(new dev.kvbm.api.spi.Notification("auth-a", note));

        byte[] metadata = b.localMetadata();
        assertThatThrownBy(() -> open.loadRemoteMetadata(metadata)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("this agent has none");
        assertThatThrownBy(() -> b.loadRemoteMetadata(open.localMetadata()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("unauthenticated metadata");
        assertThatThrownBy(() -> stranger.loadRemoteMetadata(metadata)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("MAC does not verify");
        // The crash of the audit: b's real metadata with two bytes of its packed rkey changed. Without a secret the
        // peer recomputes the checksum and UCX crashes unpacking it (uct_rkey_release); with one it never gets there.
        byte[] forged = metadata.clone();
        UcxMetadata real = UcxMetadata.decode(metadata, ((UcxAgent) b).auth());
        byte[] rkey = real.regions().getFirst().rkey();
        int at = java.util.Collections.indexOfSubList(toList(forged), toList(rkey));
        forged[at + rkey.length / 2] ^= 0x5A;
        forged[at + rkey.length / 2 + 1] ^= 0x3C;
        assertThatThrownBy(() -> a.loadRemoteMetadata(forged)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("MAC does not verify");
        // An older blob of the same run (a stale export, or one said again) is refused once a newer one was loaded.
        byte[] older = b.localMetadata();
        a.loadRemoteMetadata(b.localMetadata());
        assertThatThrownBy(() -> a.loadRemoteMetadata(older)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("older (generation");
        a.post(read(mine, 0, theirs, 0, 4096, peer)).get(10, TimeUnit.SECONDS);
    }

    private static List<Byte> toList(byte[] bytes) {
        List<Byte> out = new ArrayList<>(bytes.length);
        for (byte x : bytes) {
            out.add(x);
        }
        return out;
    }

    @Test
    void aControlMessageForgedWithoutTheSecretIsRefusedAndCounted() throws Exception {
        Agent b = agent("forge-b", Map.of("secret", SECRET));
        Storage theirs = memory(1 << 16);
        b.register(theirs);
        UcxAgent target = (UcxAgent) b;
        byte[] address = UcxMetadata.decode(b.localMetadata(), target.auth()).workerAddress();
        // A host that reaches b's worker sends an ATTACH and a REVOKE under another agent's name, with a made-up MAC.
        ClusterAuth wrongKey = ClusterAuth.withSecret("not the fleet's secret at all".getBytes());
        List<byte[]> forged = List.of(wrongKey.seal(Wire.attach("auth-a", 1, address), "forge-b"),
                wrongKey.seal(Wire.revoke("auth-a", 2, Wire.ALL_REGIONS), "forge-b"),
                ClusterAuth.trustedNetwork().seal(Wire.notify("auth-a", 3, new byte[8]), "forge-b"));
        try (org.openucx.jucx.ucp.UcpWorker raw = UcxContexts.shared().newWorker(
                new org.openucx.jucx.ucp.UcpWorkerParams());
             org.openucx.jucx.ucp.UcpEndpoint ep = raw.newEndpoint(new org.openucx.jucx.ucp.UcpEndpointParams()
                     .setUcpAddress(java.nio.ByteBuffer.allocateDirect(address.length).put(address).flip()))) {
            List<java.nio.ByteBuffer> keep = new ArrayList<>();
            List<org.openucx.jucx.ucp.UcpRequest> sent = new ArrayList<>();
            for (byte[] message : forged) {
                java.nio.ByteBuffer buffer = java.nio.ByteBuffer.allocateDirect(message.length).put(message).flip();
                keep.add(buffer);
                sent.add(ep.sendAmNonBlocking(17, 0, 0, org.openucx.jucx.UcxUtils.getAddress(buffer), message.length,
                        1L << 1, null));
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (target.refusedMessages() < forged.size() && System.nanoTime() < deadline) {
                raw.progress();
                Thread.sleep(1);
            }
            assertThat(target.refusedMessages()).as("forged messages refused").isEqualTo(forged.size());
            assertThat(b.drainNotifications()).as("nothing forged reached the inbox").isEmpty();
            for (org.openucx.jucx.ucp.UcpRequest r : sent) {
                assertThat(r.isCompleted()).as("each forged message was delivered to b's worker").isTrue();
            }
        }
        // b works on: a real member attaches and reads.
        Agent a = agent("forge-a", Map.of("secret", SECRET));
        Storage mine = memory(1 << 16);
        a.register(mine);
        a.post(read(mine, 0, theirs, 0, 4096, a.loadRemoteMetadata(b.localMetadata()))).get(10, TimeUnit.SECONDS);
    }

    @Test
    void theNotificationInboxIsBoundedInBytesAndANotificationThatDoesNotFitFailsItsWrite() throws Exception {
        Agent a = agent("inbox-a", Map.of());
        Agent b = agent("inbox-b", Map.of("notification_inbox_bytes", Integer.toString(1 << 16)));
        Storage mine = memory(1 << 16);
        Storage theirs = memory(1 << 16);
        a.register(mine);
        b.register(theirs);
        String peer = a.loadRemoteMetadata(b.localMetadata());
        byte[] note = new byte[40_000];
        a.post(write(mine, theirs, 4096, peer, note)).get(10, TimeUnit.SECONDS);
        assertThatThrownBy(() -> a.post(write(mine, theirs, 4096, peer, note)).get(10, TimeUnit.SECONDS))
                .isInstanceOf(java.util.concurrent.ExecutionException.class)
                .hasMessageContaining("notification inbox is full");
        assertThat(((UcxAgent) b).refusedNotifications()).isOne();
        assertThat(b.drainNotifications()).hasSize(1);
        a.post(write(mine, theirs, 4096, peer, note)).get(10, TimeUnit.SECONDS); // room again once drained
        assertThat(b.drainNotifications()).hasSize(1);
        assertThatThrownBy(() -> Ucx.PROVIDER.create("inbox-c", new AgentProvider.Options(TIMEOUT,
                Map.of("notification_inbox_bytes", "lots")))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("notification_inbox_bytes");
    }

    private Storage memory(long size) {
        Storage s = Ucx.MEMORY.allocate(StorageKind.SYSTEM, size, 4096);
        resources.add(s);
        return s;
    }

    private static AgentTransfer read(Storage local, long localOffset, Storage remote, long remoteOffset, long size,
                                      String peer) {
        return new AgentTransfer(AgentTransfer.Operation.READ,
                new DescriptorList(MemType.DRAM, List.of(new AgentDescriptor(
                        new MemoryRegion(local.region().address() + localOffset, size), 0))), peer,
                new DescriptorList(MemType.DRAM, List.of(new AgentDescriptor(
                        new MemoryRegion(remote.region().address() + remoteOffset, size), 0))), null);
    }

    @Test
    void aRegionItsOwnerWithdrewIsRefusedByNameBeforeAnythingMoves() throws Exception {
        Agent a = agent("ua-1");
        Agent b = agent("ub-1");
        Storage mine = memory(1 << 16);
        Storage theirs = Ucx.MEMORY.allocate(StorageKind.SYSTEM, 1 << 16, 4096);
        a.register(mine);
        b.register(theirs);
        String peer = a.loadRemoteMetadata(b.localMetadata());
        a.post(read(mine, 0, theirs, 0, 4096, peer)).get(10, TimeUnit.SECONDS);
        theirs.close(); // b asks a to stop using the region and waits for its answer before freeing
        assertThatThrownBy(() -> a.post(read(mine, 0, theirs, 0, 4096, peer)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("remote descriptor 0").hasMessageContaining("has withdrawn");
    }

    @Test
    void descriptorsOutsideRegisteredMemoryNameTheIndexTheRangeAndTheRegions() {
        Agent a = agent("ua-2");
        Agent b = agent("ub-2");
        Storage mine = memory(8192);
        Storage theirs = memory(8192);
        a.register(mine);
        b.register(theirs);
        String peer = a.loadRemoteMetadata(b.localMetadata());
        assertThatThrownBy(() -> a.post(read(mine, 0, theirs, 4096, 8192, peer)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("remote descriptor 0").hasMessageContaining(theirs.region().toString());
        assertThatThrownBy(() -> a.post(read(mine, 8000, theirs, 0, 1000, peer)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("local descriptor 0").hasMessageContaining(mine.region().toString());
    }

    @Test
    void whatTheAgentCannotRegisterOrConfigureIsRefusedWithWhatWouldWork() {
        Agent a = agent("ua-3");
        assertThatThrownBy(() -> a.register(new DeviceStorageDouble())).isInstanceOf(UnsupportedOperationException.class)
                .hasMessageContaining("no CUDA memory support");
        assertThatThrownBy(() -> Ucx.PROVIDER.create("ua-3b", new AgentProvider.Options(TIMEOUT,
                Map.of("threads", "2")))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("ucx.NAME=value");
        assertThatThrownBy(() -> Ucx.PROVIDER.create("ua-3c", new AgentProvider.Options(TIMEOUT,
                Map.of("ucx.TLS", "no-such-transport")))).isInstanceOf(RuntimeException.class);
        Storage closed = Ucx.MEMORY.allocate(StorageKind.SYSTEM, 4096, 4096);
        closed.close();
        assertThatThrownBy(() -> a.register(closed)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void closeFromATransfersCallbackReturnsAndTheProgressThreadSleepsWhenIdle() throws Exception {
        Agent a = agent("ua-4");
        Agent b = agent("ub-4");
        Storage mine = memory(1 << 16);
        Storage theirs = memory(1 << 16);
        a.register(mine);
        b.register(theirs);
        String peer = a.loadRemoteMetadata(b.localMetadata());

        Thread progress = Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().equals("kvbm-ucx-ua-4-progress")).findFirst().orElseThrow();
        var threads = ManagementFactory.getThreadMXBean();
        long cpuBefore = threads.getThreadCpuTime(progress.threadId());
        Thread.sleep(1000);
        long cpuNanos = threads.getThreadCpuTime(progress.threadId()) - cpuBefore;
        assertThat(cpuNanos).as("CPU time of an idle agent's progress thread over one second")
                .isLessThan(TimeUnit.MILLISECONDS.toNanos(200));

        CompletableFuture<Void> closed = a.post(read(mine, 0, theirs, 0, 4096, peer)).thenRun(a::close);
        closed.get(30, TimeUnit.SECONDS);
        assertThatThrownBy(() -> a.post(read(mine, 0, theirs, 0, 4096, peer)))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
    }

    @Test
    void carelessCallsEndCleanly() throws Exception {
        Agent a = agent("ua-5");
        Storage mine = memory(1 << 16);
        a.register(mine);
        // An agent may load its own metadata and move bytes within its own memory.
        String self = a.loadRemoteMetadata(a.localMetadata());
        assertThat(self).isEqualTo("ua-5");
        ((dev.kvbm.api.spi.HostStorage) mine).segment().asSlice(0, 4096).fill((byte) 7);
        a.post(read(mine, 8192, mine, 0, 4096, self)).get(10, TimeUnit.SECONDS);
        assertThat(((dev.kvbm.api.spi.HostStorage) mine).segment().get(java.lang.foreign.ValueLayout.JAVA_BYTE, 8192))
                .isEqualTo((byte) 7);
        // An empty transfer completes; an oversized notification is refused before anything moves.
        AgentTransfer empty = new AgentTransfer(AgentTransfer.Operation.WRITE, new DescriptorList(MemType.DRAM,
                List.of()), self, new DescriptorList(MemType.DRAM, List.of()), null);
        a.post(empty).get(10, TimeUnit.SECONDS);
        AgentTransfer loud = new AgentTransfer(AgentTransfer.Operation.WRITE, new DescriptorList(MemType.DRAM,
                List.of()), self, new DescriptorList(MemType.DRAM, List.of()), new byte[(1 << 16) + 1]);
        assertThatThrownBy(() -> a.post(loud)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("too large");
        // Metadata of an agent that closed: UCX refuses to connect (its shared memory is gone), or the attach finds
        // nobody within the peer timeout; either way the load fails naming the peer, and nothing is kept.
        Agent gone = Ucx.PROVIDER.create("ub-5", new AgentProvider.Options(Duration.ofSeconds(1), Map.of()));
        byte[] goneMetadata = gone.localMetadata();
        gone.close();
        assertThatThrownBy(() -> a.loadRemoteMetadata(goneMetadata))
                .isInstanceOfAny(IllegalArgumentException.class, IllegalStateException.class)
                .hasMessageContaining("peer agent ub-5");
        assertThatThrownBy(() -> a.post(read(mine, 0, mine, 0, 64, "ub-5")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("unknown remote agent 'ub-5'");
    }

    /** A test double: storage that claims to be GPU memory, to reach the agent's refusal of it. */
    private static final class DeviceStorageDouble implements Storage {
        private final Lifetime lifetime = new Lifetime(() -> "device storage double");

        @Override
        public StorageKind kind() {
            return StorageKind.device(0);
        }

        @Override
        public MemoryRegion region() {
            return new MemoryRegion(0x7000_0000_0000L, 1 << 20);
        }

        @Override
        public boolean isClosed() {
            return false;
        }

        @Override
        public Lifetime.Lease acquire() {
            return lifetime.acquire();
        }

        @Override
        public Lifetime.Hook onClose(String holder, Runnable withdraw) {
            return lifetime.onClose(holder, withdraw);
        }

        @Override
        public void close() {
            lifetime.close(() -> { });
        }
    }
}
