package dev.kvbm.manager;

import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.Backends;
import dev.kvbm.api.spi.StorageProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The manager tried as a careless caller would: closed from a callback of its own futures, used after close, given
 * handles it never made. Each call ends with an exception that names the mistake, or works; none hangs or leaks.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class CarelessCallerTest {
    private static final ModelShape SHAPE = KvBlockManagerTest.SHAPE;

    @TempDir
    Path dir;

    private Backends backends() {
        Backends loaded = Backends.load(getClass().getClassLoader(), Set.of());
        StorageProvider memory = loaded.storageProvider(StorageKind.SYSTEM);
        StorageProvider disk = loaded.storageProvider(StorageKind.disk(0)).inDirectory(dir);
        return Backends.of(List.of(memory, disk), loaded.executorProviders(), loaded.agentProviders());
    }

    @Test
    void closingTheManagerFromItsOwnOnboardCallbackReturnsAndFreesEverything() throws Exception {
        Backends backends = backends();
        KvBlockManager kvbm = KvBlockManager.builder().model(SHAPE).backends(backends).withoutAgent()
                .tier(Tier.G1, TierSpec.blocks(4)).tier(Tier.G2, TierSpec.blocks(8)).tier(Tier.G3,
                        TierSpec.blocks(8)).build();
        TokenBlockSequence a = KvBlockManagerTest.sequence(0, 4);
        KvBlockManager.closeAll(Kv.prefill(kvbm, a));
        kvbm.offloadsIdle().join();
        KvBlockManager.closeAll(Kv.prefill(kvbm, KvBlockManagerTest.sequence(900, 4))); // A leaves G1
        kvbm.offloadsIdle().join();
        PrefixMatch hit = kvbm.match(a.sequenceHashes());
        assertThat(hit.offloaded()).isNotEmpty();
        CompletableFuture<Void> closed = kvbm.onboard(hit.blocks()).thenAccept(up -> {
            up.close();
            hit.close();
            kvbm.close(); // from the manager's own callback thread
        });
        closed.get(60, TimeUnit.SECONDS);
        for (StorageProvider p : backends.storageProviders()) {
            assertThat(p.bytesOutstanding()).as("%s bytes after close", p.name()).isZero();
        }
        assertThatThrownBy(() -> kvbm.allocate(1)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("is closed");
        assertThatThrownBy(() -> kvbm.match(a.sequenceHashes())).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> kvbm.exportBlockSets()).isInstanceOf(IllegalStateException.class);
        kvbm.close(); // again: idempotent
    }

    @Test
    void handlesOfAnotherPoolOrAlreadyUsedAreRefusedByName() {
        BlockPool one = BlockPool.create("one", 4, 4, BlockPool.Duplicates.REFUSE);
        BlockPool two = BlockPool.create("two", 4, 4, BlockPool.Duplicates.REFUSE);
        TokenBlockSequence seq = TokenBlockSequence.of(new int[] {1, 2, 3, 4}, 4, 7);
        MutableBlock b = one.allocate(1).getFirst().complete(seq, 0);
        assertThatThrownBy(() -> two.register(b)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("belongs to another pool");
        ImmutableBlock registered = one.register(b);
        assertThatThrownBy(() -> one.register(b)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("registered already");
        assertThatThrownBy(() -> two.release(List.of(registered))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("belongs to pool one");
        registered.close();
        registered.close(); // idempotent
        assertThatThrownBy(registered::parentHash).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("was released");
        assertThatThrownBy(() -> one.allocate(-1)).isInstanceOf(IllegalArgumentException.class);
        assertThat(one.stats().inactive()).isEqualTo(1);
    }
}
