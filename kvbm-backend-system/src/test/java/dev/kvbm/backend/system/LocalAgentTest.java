package dev.kvbm.backend.system;

import dev.kvbm.api.MemType;
import dev.kvbm.api.MemoryRegion;
import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.Agent;
import dev.kvbm.api.spi.AgentDescriptor;
import dev.kvbm.api.spi.AgentProvider;
import dev.kvbm.api.spi.AgentTransfer;
import dev.kvbm.api.spi.DescriptorList;
import dev.kvbm.api.spi.HostStorage;
import dev.kvbm.api.spi.Notification;
import dev.kvbm.api.spi.Storage;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The {@code local} agent over real System memory: the Agent contract between two agents of one JVM. */
class LocalAgentTest {
    private static final int SIZE = 64 * 1024;

    private final SystemStorageProvider memory = new SystemStorageProvider();
    private final AgentProvider provider = new LocalAgentProvider();
    private final List<AutoCloseable> resources = new ArrayList<>();

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable r : resources.reversed()) {
            r.close();
        }
        assertThat(memory.bytesOutstanding()).isZero();
    }

    @Test
    void writeAndReadMoveExactlyTheDescribedBytes() throws Exception {
        Link link = link(1);
        Agent a = link.a();
        Agent b = link.b();
        HostStorage mine = link.mine();
        HostStorage theirs = link.theirs();
        assertThat(a.loadRemoteMetadata(b.localMetadata())).isEqualTo("lb-1");

        byte[] before = theirs.segment().toArray(ValueLayout.JAVA_BYTE);
        // Two odd-sized, unaligned pieces of mine go to two places in theirs.
        a.post(transfer(AgentTransfer.Operation.WRITE, "lb-1", pair(mine, 3, theirs, 1001, 777),
                pair(mine, 5000, theirs, 40_000, 12_345))).get(30, TimeUnit.SECONDS);
        byte[] after = theirs.segment().toArray(ValueLayout.JAVA_BYTE);
        byte[] source = mine.segment().toArray(ValueLayout.JAVA_BYTE);
        for (int i = 0; i < SIZE; i++) {
            byte expected = i >= 1001 && i < 1001 + 777 ? source[3 + i - 1001]
                    : i >= 40_000 && i < 40_000 + 12_345 ? source[5000 + i - 40_000] : before[i];
            if (after[i] != expected) {
                throw new AssertionError("byte " + i + " of the destination is " + after[i] + ", expected " + expected);
            }
        }

        // READ pulls remote bytes into local memory.
        a.post(transfer(AgentTransfer.Operation.READ, "lb-1", pair(mine, 100, theirs, 60_000, 4096)))
                .get(30, TimeUnit.SECONDS);
        assertThat(mine.segment().asSlice(100, 4096).toArray(ValueLayout.JAVA_BYTE))
                .isEqualTo(theirs.segment().asSlice(60_000, 4096).toArray(ValueLayout.JAVA_BYTE));
    }

    @Test
    void descriptorsOutsideRegisteredMemoryAreRejectedBeforeAnythingMoves() {
        Agent a = agent("la-2");
        Agent b = agent("lb-2");
        HostStorage mine = storage(3);
        HostStorage theirs = storage(4);
        a.register(mine, mine.region().slice(0, SIZE / 2));
        b.register(theirs);
        a.loadRemoteMetadata(b.localMetadata());
        byte[] before = theirs.segment().toArray(ValueLayout.JAVA_BYTE);

        // Local range crosses the end of the registered half.
        assertThatThrownBy(() -> a.post(transfer(AgentTransfer.Operation.WRITE, "lb-2",
                pair(mine, SIZE / 2 - 10, theirs, 0, 20))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("local descriptor 0")
                .hasMessageContaining("outside the memory agent la-2 has registered");
        // Remote range one byte past the peer's registration.
        assertThatThrownBy(() -> a.post(transfer(AgentTransfer.Operation.WRITE, "lb-2",
                pair(mine, 0, theirs, 0, 8), pair(mine, 8, theirs, SIZE - 7, 8))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("remote descriptor 1");
        assertThat(theirs.segment().toArray(ValueLayout.JAVA_BYTE)).isEqualTo(before);
    }

    @Test
    void notificationsArriveOnceAtThePeer() throws Exception {
        Link link = link(3);
        Agent a = link.a();
        Agent b = link.b();
        HostStorage mine = link.mine();
        HostStorage theirs = link.theirs();
        DescriptorList local = new DescriptorList(MemType.DRAM, List.of(new AgentDescriptor(mine.region().slice(0, 64), 0)));
        DescriptorList remote = new DescriptorList(MemType.DRAM, List.of(new AgentDescriptor(theirs.region().slice(0, 64), 0)));
        a.post(new AgentTransfer(AgentTransfer.Operation.WRITE, local, "lb-3", remote, new byte[] {7, 8}))
                .get(30, TimeUnit.SECONDS);
        a.post(new AgentTransfer(AgentTransfer.Operation.WRITE, local, "lb-3", remote, null)).get(30, TimeUnit.SECONDS);
        assertThat(b.drainNotifications()).containsExactly(new Notification("la-3", new byte[] {7, 8}));
        assertThat(b.drainNotifications()).isEmpty();
        assertThat(a.drainNotifications()).isEmpty();
    }

    @Test
    void anInvalidatedPeerIsRejectedUntilReloaded() throws Exception {
        Link link = link(4);
        Agent a = link.a();
        Agent b = link.b();
        HostStorage mine = link.mine();
        HostStorage theirs = link.theirs();
        a.invalidateRemote("lb-4");
        assertThatThrownBy(() -> a.post(transfer(AgentTransfer.Operation.READ, "lb-4", pair(mine, 0, theirs, 0, 8))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("unknown remote agent 'lb-4'");
        a.loadRemoteMetadata(b.localMetadata());
        a.post(transfer(AgentTransfer.Operation.READ, "lb-4", pair(mine, 0, theirs, 0, 8))).get(30, TimeUnit.SECONDS);
    }

    @Test
    void aWithdrawnRegistrationOrAClosedPeerFailsTheTransfer() throws Exception {
        Agent a = agent("la-5");
        Agent b = agent("lb-5");
        HostStorage mine = storage(9);
        HostStorage theirs = storage(10);
        a.register(mine);
        Agent.Registration registration = b.register(theirs);
        a.loadRemoteMetadata(b.localMetadata());
        registration.close();
        registration.close();
        // Still inside the loaded metadata, but no longer registered at the peer: checked again when it runs.
        assertThatThrownBy(() -> a.post(transfer(AgentTransfer.Operation.WRITE, "lb-5", pair(mine, 0, theirs, 0, 8)))
                .get(30, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                .rootCause().hasMessageContaining("outside the memory agent lb-5 has registered");
        b.register(theirs);
        b.close();
        assertThatThrownBy(() -> a.post(transfer(AgentTransfer.Operation.WRITE, "lb-5", pair(mine, 0, theirs, 0, 8)))
                .get(30, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                .rootCause().hasMessageContaining("peer agent lb-5 closed");
    }

    @Test
    void closingRegisteredStorageWithdrawsItSoAPeerReadFailsInsteadOfReadingFreedMemory() throws Exception {
        Agent a = agent("la-8");
        Agent b = agent("lb-8");
        HostStorage mine = storage(13);
        a.register(mine);
        HostStorage theirs = (HostStorage) memory.allocate(StorageKind.SYSTEM, SIZE, 64);
        b.register(theirs);
        a.loadRemoteMetadata(b.localMetadata());
        long outstanding = memory.bytesOutstanding();
        Pair piece = pair(mine, 0, theirs, 0, 4096);
        theirs.close();
        assertThat(memory.bytesOutstanding()).isEqualTo(outstanding - SIZE);
        assertThat(LocalAgentMetadata.decode(b.localMetadata()).entries()).isEmpty();
        assertThatThrownBy(() -> a.post(transfer(AgentTransfer.Operation.READ, "lb-8", piece)).get(30, TimeUnit.SECONDS))
                .isInstanceOf(ExecutionException.class)
                .rootCause().hasMessageContaining("outside the memory agent lb-8 has registered");
        assertThatThrownBy(() -> b.register(theirs)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("is closed and cannot be registered");
    }

    @Test
    void registrationsAreDramOnlyAndDisjoint() {
        Agent a = agent("la-6");
        HostStorage mine = storage(11);
        try (Storage file = new DiskStorageProvider().allocate(StorageKind.disk(0), 4096)) {
            assertThatThrownBy(() -> a.register(file))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("host memory (DRAM) only");
        }
        assertThatThrownBy(() -> a.register(mine, new MemoryRegion(mine.region().address() + SIZE - 8, 16)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("inside its storage");
        a.register(mine, mine.region().slice(0, 100));
        assertThatThrownBy(() -> a.register(mine, mine.region().slice(99, 10)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("registrations must be disjoint");
        assertThatThrownBy(() -> agent("la-6")).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("already named 'la-6'");
    }

    @Test
    void malformedMetadataIsAnIllegalArgument() {
        Agent a = agent("la-7");
        Agent b = agent("lb-7");
        b.register(storage(12));
        byte[] good = b.localMetadata();
        SplittableRandom random = new SplittableRandom(7);
        for (int i = 0; i < 5_000; i++) {
            byte[] bytes = java.util.Arrays.copyOf(good, random.nextInt(good.length + 4));
            if (bytes.length > 0) {
                bytes[random.nextInt(bytes.length)] = (byte) random.nextInt(256);
            }
            try {
                assertThat(a.loadRemoteMetadata(bytes)).isNotBlank();
            } catch (IllegalArgumentException expected) {
                assertThat(expected.getMessage()).isNotBlank();
            }
        }
        byte[] wrongAgent = new LocalAgentMetadata("nobody-here", List.of()).encode();
        assertThatThrownBy(() -> a.loadRemoteMetadata(wrongAgent)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("no open local agent is named 'nobody-here'");
        // A ucx agent's blob (its magic, then anything) is named as what it is.
        byte[] ucxBlob = {'K', 'U', 'X', '1', 0, 0, 0, 0};
        assertThatThrownBy(() -> a.loadRemoteMetadata(ucxBlob)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("metadata of a ucx agent").hasMessageContaining("not of a local agent");
    }

    @Test
    void closingFailsPendingTransfersAndIsIdempotent() {
        Agent a = agent("la-8");
        a.close();
        a.close();
        assertThatThrownBy(a::localMetadata).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
        // The name is free again.
        agent("la-8");
    }

    @Test
    void agentOptionsAreValidated() {
        assertThat(provider.isAvailable()).isTrue();
        assertThat(provider.name()).isEqualTo("local");
        assertThatThrownBy(() -> provider.create("x", new AgentProvider.Options(Duration.ofSeconds(1),
                Map.of(LocalAgentProvider.THREADS_PROPERTY, "zero"))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("threads = 'zero'");
        // A misspelt option is an error naming it, not a setting silently ignored.
        assertThatThrownBy(() -> provider.create("x", new AgentProvider.Options(Duration.ofSeconds(1),
                Map.of("thread", "4"))))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("agent option 'thread' is not known to the local agent: it takes threads=N (copy threads,"
                        + " default 2)");
    }

    /** Agents la-n and lb-n, each with its own registered memory, and lb-n's metadata loaded into la-n. */
    private record Link(Agent a, Agent b, HostStorage mine, HostStorage theirs) {
    }

    private Link link(int n) {
        Link link = new Link(agent("la-" + n), agent("lb-" + n), storage(2L * n - 1), storage(2L * n));
        link.a().register(link.mine());
        link.b().register(link.theirs());
        link.a().loadRemoteMetadata(link.b().localMetadata());
        return link;
    }

    private Agent agent(String name) {
        Agent agent = provider.create(name, new AgentProvider.Options(Duration.ofSeconds(5), Map.of()));
        resources.add(agent);
        return agent;
    }

    private HostStorage storage(long seed) {
        HostStorage s = (HostStorage) memory.allocate(StorageKind.SYSTEM, SIZE, 64);
        resources.add(s);
        byte[] bytes = new byte[SIZE];
        new SplittableRandom(seed).nextBytes(bytes);
        MemorySegment.copy(MemorySegment.ofArray(bytes), 0, s.segment(), 0, SIZE);
        return s;
    }

    private record Pair(MemoryRegion local, MemoryRegion remote) {
    }

    private static Pair pair(HostStorage local, long localOffset, HostStorage remote, long remoteOffset, long size) {
        return new Pair(new MemoryRegion(local.region().address() + localOffset, size),
                new MemoryRegion(remote.region().address() + remoteOffset, size));
    }

    private static AgentTransfer transfer(AgentTransfer.Operation op, String peer, Pair... pairs) {
        List<AgentDescriptor> local = new ArrayList<>();
        List<AgentDescriptor> remote = new ArrayList<>();
        for (Pair p : pairs) {
            local.add(new AgentDescriptor(p.local, 0));
            remote.add(new AgentDescriptor(p.remote, 0));
        }
        return new AgentTransfer(op, new DescriptorList(MemType.DRAM, local), peer, new DescriptorList(MemType.DRAM, remote),
                null);
    }
}
