package dev.kvbm.discovery.etcd;

import dev.kvbm.api.KvbmException;
import dev.kvbm.api.spi.Discovery;
import dev.kvbm.api.spi.DiscoveryProvider;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.options.PutOption;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The etcd provider against a real etcd on loopback. */
class EtcdDiscoveryTest {
    private static final Duration TTL = Duration.ofSeconds(2);

    @TempDir
    Path dir;
    EtcdServer etcd;

    @BeforeEach
    void start() throws Exception {
        etcd = EtcdServer.start(dir);
    }

    @AfterEach
    void stop() throws Exception {
        if (etcd != null) {
            etcd.close();
        }
    }

    private Discovery connect() {
        return DiscoveryProvider.named("etcd").connect(DiscoveryProvider.Options.of("test", etcd.endpoint())
                .withTtl(TTL));
    }

    private static Discovery.Listener recorder(BlockingQueue<String> events) {
        return new Discovery.Listener() {
            @Override
            public void joined(Discovery.WorkerEntry e) {
                events.add("joined " + e.workerId() + " " + new String(e.metadata(), StandardCharsets.UTF_8));
            }

            @Override
            public void changed(Discovery.WorkerEntry e) {
                events.add("changed " + e.workerId() + " " + new String(e.metadata(), StandardCharsets.UTF_8));
            }

            @Override
            public void left(Discovery.WorkerEntry e) {
                events.add("left " + e.workerId());
            }
        };
    }

    /** A value as another worker's connection writes it (its own token). */
    private static byte[] value(long token, long workerId, String name, byte[] metadata) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(8 + 8 + 8 + 2 + n.length + 4 + metadata.length)
                .put("KVBMETC1".getBytes(StandardCharsets.US_ASCII)).putLong(token).putLong(workerId)
                .putShort((short) n.length).put(n).putInt(metadata.length).put(metadata).array();
    }

    @Test
    void joinChangeAndLeaveAreWatched() throws Exception {
        BlockingQueue<String> events = new LinkedBlockingQueue<>();
        try (Discovery a = connect(); Discovery b = connect()) {
            Discovery.Registration one = a.register(new Discovery.WorkerEntry(1, "one", "v1".getBytes()));
            try (Discovery.Watch w = b.watch(recorder(events))) {
                assertThat(events.poll(10, TimeUnit.SECONDS)).isEqualTo("joined 1 v1");
                Discovery.Registration two = a.register(new Discovery.WorkerEntry(2, "two", "x".getBytes()));
                assertThat(events.poll(10, TimeUnit.SECONDS)).isEqualTo("joined 2 x");
                one.update("v2".getBytes());
                assertThat(events.poll(10, TimeUnit.SECONDS)).isEqualTo("changed 1 v2");
                assertThat(b.workers()).extracting(Discovery.WorkerEntry::workerId).containsExactly(1L, 2L);
                two.close();
                assertThat(events.poll(10, TimeUnit.SECONDS)).isEqualTo("left 2");
                // Renewals keep worker 1 alive well past its TTL; nothing else happens.
                assertThat(events.poll(2 * TTL.toMillis() + 500, TimeUnit.MILLISECONDS)).isNull();
                assertThatThrownBy(() -> b.register(new Discovery.WorkerEntry(1, "impostor", new byte[0])))
                        .isInstanceOf(IllegalStateException.class).hasMessageContaining("another live worker (one)");
            }
        }
    }

    @Test
    void aWorkerThatStopsRenewingIsSeenGoneOnceItsLeaseExpires() throws Exception {
        BlockingQueue<String> events = new LinkedBlockingQueue<>();
        try (Client raw = Client.builder().endpoints(etcd.endpoint()).build(); Discovery d = connect();
             Discovery.Watch w = d.watch(recorder(events))) {
            // What a SIGKILLed worker leaves: a key under a lease nobody renews.
            long lease = raw.getLeaseClient().grant(TTL.toSeconds()).get(10, TimeUnit.SECONDS).getID();
            raw.getKVClient().put(ByteSequence.from("/kvbm/test/workers/5", StandardCharsets.UTF_8),
                    ByteSequence.from(value(77, 5, "killed", "m".getBytes())),
                    PutOption.builder().withLeaseId(lease).build()).get(10, TimeUnit.SECONDS);
            assertThat(events.poll(10, TimeUnit.SECONDS)).isEqualTo("joined 5 m");
            // How soon is a benchmark figure (kvbm bench discovery); the test waits ten TTLs, which a loaded
            // machine does not miss and a watch that never sees the lease expire does.
            assertThat(events.poll(10 * TTL.toMillis(), TimeUnit.MILLISECONDS)).isEqualTo("left 5");
        }
    }

    @Test
    void aRestartedEtcdLosesNothingAndAWipedOneIsRepopulatedByTheWorkers() throws Exception {
        BlockingQueue<String> events = new LinkedBlockingQueue<>();
        try (Discovery a = connect(); Discovery b = connect(); Discovery.Watch w = b.watch(recorder(events))) {
            a.register(new Discovery.WorkerEntry(1, "one", "v1".getBytes()));
            assertThat(events.poll(10, TimeUnit.SECONDS)).isEqualTo("joined 1 v1");

            etcd.restart(false);
            a.register(new Discovery.WorkerEntry(3, "after-restart", "r".getBytes()));
            assertThat(events.poll(15, TimeUnit.SECONDS)).isEqualTo("joined 3 r");
            assertThat(b.workers()).extracting(Discovery.WorkerEntry::workerId).containsExactly(1L, 3L);

            etcd.restart(true); // all data gone: the workers put their entries back by themselves
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(TTL.toSeconds() + 15);
            while (System.nanoTime() < deadline) {
                try {
                    if (b.workers().size() == 2) {
                        break;
                    }
                } catch (KvbmException e) {
                    // not answering yet
                }
                Thread.sleep(200);
            }
            assertThat(b.workers()).extracting(Discovery.WorkerEntry::workerId).containsExactly(1L, 3L);
            // The watch followed: whatever it reported in between (both were present before), it ends with both.
            Thread.sleep(TTL.toMillis() + 1500);
            java.util.Set<Long> present = new java.util.HashSet<>(java.util.List.of(1L, 3L));
            for (String e : events) {
                long id = Long.parseLong(e.split(" ")[1]);
                if (e.startsWith("left")) {
                    present.remove(id);
                } else {
                    present.add(id);
                }
            }
            assertThat(present).as("events: %s", events).contains(1L, 3L);
        }
    }

    @Test
    void malformedValuesAreCountedAndDropped() throws Exception {
        try (Client raw = Client.builder().endpoints(etcd.endpoint()).build(); Discovery d = connect()) {
            put(raw, "/kvbm/test/workers/20", "{\"not\": \"ours\"}".getBytes());
            put(raw, "/kvbm/test/workers/21", value(1, 99, "misnamed", new byte[0]));
            byte[] lying = value(1, 22, "liar", new byte[4]);
            ByteBuffer.wrap(lying).putInt(lying.length - 8, Integer.MAX_VALUE);
            put(raw, "/kvbm/test/workers/22", lying);
            put(raw, "/kvbm/test/workers/23", java.util.Arrays.copyOf(value(1, 23, "cut", new byte[50]), 30));
            put(raw, "/kvbm/test/workers/24", value(1, 24, "fine", "ok".getBytes()));
            assertThat(d.workers()).extracting(Discovery.WorkerEntry::workerId).containsExactly(24L);
            assertThat(d.malformedEntries()).isEqualTo(4);
        }
    }

    private static void put(Client raw, String key, byte[] value) throws Exception {
        raw.getKVClient().put(ByteSequence.from(key, StandardCharsets.UTF_8), ByteSequence.from(value))
                .get(10, TimeUnit.SECONDS);
    }

    @Test
    void anUnreachableEtcdIsAClearError() throws Exception {
        etcd.stop();
        assertThatThrownBy(() -> DiscoveryProvider.named("etcd").connect(
                DiscoveryProvider.Options.of("test", etcd.endpoint()).withTtl(TTL)))
                .isInstanceOf(KvbmException.class).hasMessageContaining("cannot reach etcd at " + etcd.endpoint())
                .hasMessageContaining("etcd-server");
        assertThatThrownBy(() -> DiscoveryProvider.named("etcd").connect(
                DiscoveryProvider.Options.of("test", "not a url")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not a URL");
    }
}
