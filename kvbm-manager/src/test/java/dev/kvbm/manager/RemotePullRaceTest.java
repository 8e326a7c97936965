package dev.kvbm.manager;

import dev.kvbm.api.spi.AgentProvider;
import dev.kvbm.api.spi.Backends;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReferenceArray;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.abort;

/**
 * A peer that keeps serving while another worker reads its memory from a directory that is always a little out of
 * date: verified pulls must never register bytes that are not the KV of the hash they were pulled as. Two managers
 * in this JVM, with the {@code local} agent and with the {@code ucx} agent; the owner evicts and rewrites blocks
 * while the reader's copies run.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class RemotePullRaceTest {
    /** 64 KiB blocks, so that a copy lasts long enough for the owner to rewrite a block under it now and then. */
    private static final ModelShape SHAPE = new ModelShape(4, 2, 4, 1024, 2);
    private static final int OWNER_BLOCKS = 32;
    private static final int REQUEST = 4;
    /** Directory entries kept: the last two pools' worth of registrations, most of them already evicted. */
    private static final int DIRECTORY = 2 * OWNER_BLOCKS;

    private final Backends backends = Backends.load(getClass().getClassLoader(), Set.of());

    /** Where the owner said a block was: its sequence, its index there and the owner's block id. */
    private record Entry(TokenBlockSequence sequence, int index, int blockId) {
    }

    private KvBlockManager worker(String agent, long id, int g1) {
        // Duplicates kept: a hash pulled again is registered as the new copy, whose bytes are then checked.
        return KvBlockManager.builder().model(SHAPE).backends(backends).agent(agent).workerId(id)
                .duplicates(BlockPool.Duplicates.ALLOW).tier(Tier.G1, TierSpec.blocks(g1)).build();
    }

    @Test
    void overTheLocalAgent() throws Exception {
        verifiedPullsNeverRegisterBytesThePeerReplacedBeforeOrWhileTheyWereRead("local");
    }

    /** The same over UCX (one-sided READs between two UCX workers), where a READ's completion orders the reads. */
    @Test
    void overUcx() throws Exception {
        assumeUcx(backends);
        verifiedPullsNeverRegisterBytesThePeerReplacedBeforeOrWhileTheyWereRead("ucx");
    }

    /** Skips the test, saying why, where UCX does not load; fails it instead when KVBM_REQUIRE names ucx. */
    static void assumeUcx(Backends backends) {
        AgentProvider ucx = backends.agentProviders().stream().filter(p -> p.name().equals("ucx")).findFirst()
                .orElseThrow(() -> new AssertionError("kvbm-backend-nixl is a test dependency"));
        ucx.unavailabilityCause().ifPresent(cause -> {
            String reason = "UCX is not usable here: " + cause.getMessage();
            if (List.of((System.getProperty("kvbm.require", "") + "," + System.getenv().getOrDefault("KVBM_REQUIRE",
                    "")).split(",")).contains("ucx")) {
                fail(reason + " (and KVBM_REQUIRE=ucx says it must be)");
            }
            abort(reason);
        });
    }

    private void verifiedPullsNeverRegisterBytesThePeerReplacedBeforeOrWhileTheyWereRead(String agent)
            throws Exception {
        try (KvBlockManager owner = worker(agent, 1, OWNER_BLOCKS); KvBlockManager reader = worker(agent, 2, 16)) {
            reader.importBlockSets(owner.exportBlockSets());
            AtomicReferenceArray<Entry> directory = new AtomicReferenceArray<>(DIRECTORY);
            AtomicInteger published = new AtomicInteger();
            AtomicBoolean stop = new AtomicBoolean();
            List<Throwable> ownerErrors = new ArrayList<>();
            Thread ownerThread = new Thread(() -> {
                try {
                    for (int r = 0; !stop.get(); r++) {
                        TokenBlockSequence seq = TokenBlockSequence.of(Kv.tokens(r * REQUEST * SHAPE.pageSize(),
                                REQUEST * SHAPE.pageSize()), SHAPE.pageSize(), KvBlockManagerTest.SALT);
                        List<ImmutableBlock> blocks = Kv.prefill(owner, seq);
                        for (int i = 0; i < blocks.size(); i++) {
                            int at = published.getAndIncrement();
                            directory.set(at % DIRECTORY, new Entry(seq, i, blocks.get(i).blockId()));
                        }
                        KvBlockManager.release(blocks);
                    }
                } catch (Throwable t) {
                    ownerErrors.add(t);
                }
            }, "owner");
            ownerThread.start();

            Tally tally = new Tally();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            try {
                while (System.nanoTime() < deadline && (tally.accepted < 300 || tally.changed < 300)
                        && ownerErrors.isEmpty()) {
                    int latest = published.get();
                    if (latest < DIRECTORY) {
                        Thread.onSpinWait();
                        continue;
                    }
                    // Mostly the blocks the owner evicts next (registered about a pool ago), some older, some newer.
                    int back = OWNER_BLOCKS - 4 + ThreadLocalRandom.current().nextInt(-8, 12);
                    Entry e = directory.get((latest - back) % DIRECTORY);
                    tally.pull(reader, owner.handle(Tier.G1), e.blockId(), e.sequence(), e.index());
                }
            } finally {
                stop.set(true);
                ownerThread.join();
            }
            assertThat(ownerErrors).isEmpty();
            tally.assertOutcome(reader);
        }
    }

    /** What a reader's verified pulls from a peer that keeps evicting came to, checked block by block. */
    static final class Tally {
        int accepted;
        int changed;
        final List<String> wrong = new ArrayList<>();

        /**
         * Pulls block {@code blockId} of {@code blockSet} as block {@code index} of {@code sequence}: a block
         * registered must hold the KV {@link Kv#prefill} wrote for that hash; a block refused must be refused as
         * changed, not as a failed copy.
         */
        void pull(KvBlockManager reader, dev.kvbm.transport.LayoutHandle blockSet, int blockId,
                  TokenBlockSequence sequence, int index) throws Exception {
            try (PullResult r = reader.pull(reader.remoteBlocks(blockSet, blockId), sequence, index)
                    .get(30, TimeUnit.SECONDS)) {
                if (r.pulled().isEmpty()) {
                    assertThat(r.failures()).singleElement().satisfies(f -> assertThat(f.changed())
                            .as("%s", f.cause()).isTrue());
                    changed++;
                    return;
                }
                accepted++;
                long hash = sequence.sequenceHash(index);
                long got = Kv.checksum(reader.layout(Tier.G1), r.pulled().getFirst().blockId());
                if (got != Kv.expected(reader.layout(Tier.G1), hash)) {
                    wrong.add("block " + blockId + " pulled as " + Long.toUnsignedString(hash));
                }
            }
        }

        /** No wrong bytes, some blocks of each kind, and the reader's metrics agree. */
        void assertOutcome(KvBlockManager reader) {
            assertThat(wrong).as("bytes registered under a hash they are not the KV of").isEmpty();
            assertThat(accepted).as("pulls of blocks the owner still held").isPositive();
            assertThat(changed).as("pulls of blocks the owner had taken back").isPositive();
            KvbmMetrics.PullStats stats = reader.metrics().pulls();
            assertThat(stats.blocks()).isEqualTo(accepted);
            assertThat(stats.changed()).isEqualTo(changed);
            assertThat(stats.failures()).isZero();
        }
    }
}
