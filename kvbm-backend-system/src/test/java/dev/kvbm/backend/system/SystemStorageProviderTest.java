package dev.kvbm.backend.system;

import dev.kvbm.api.KvbmException;
import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.HostStorage;
import dev.kvbm.api.spi.Storage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SystemStorageProviderTest {
    private final SystemStorageProvider provider = new SystemStorageProvider();

    @ParameterizedTest
    @ValueSource(longs = {1, 8, 64, 512, 4096, 1 << 16, 1 << 21})
    void honoursAlignmentAndSize(long alignment) {
        try (Storage s = provider.allocate(StorageKind.SYSTEM, 12345, alignment)) {
            assertThat(s.region().address() % alignment).isZero();
            assertThat(s.size()).isEqualTo(12345);
            MemorySegment seg = ((HostStorage) s).segment();
            assertThat(seg.address()).isEqualTo(s.region().address());
            assertThat(seg.byteSize()).isEqualTo(12345);
            seg.set(ValueLayout.JAVA_BYTE, 12344, (byte) 7);
            assertThat(seg.get(ValueLayout.JAVA_BYTE, 12344)).isEqualTo((byte) 7);
        }
    }

    @Test
    void pageAlignedAndZeroedByDefault() {
        try (Storage s = provider.allocate(StorageKind.SYSTEM, 3 * 4096 + 5)) {
            assertThat(s.region().address() % 4096).isZero();
            MemorySegment seg = ((HostStorage) s).segment();
            assertThat(seg.mismatch(MemorySegment.ofArray(new byte[(int) seg.byteSize()]))).isEqualTo(-1);
        }
    }

    @Test
    void rejectsZeroNegativeBadAlignmentAndOtherKinds() {
        assertThatThrownBy(() -> provider.allocate(StorageKind.SYSTEM, 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("cannot allocate 0 bytes of System storage: size must be > 0");
        assertThatThrownBy(() -> provider.allocate(StorageKind.SYSTEM, -5))
                .hasMessageContaining("-5 bytes").hasMessageContaining("must be > 0");
        assertThatThrownBy(() -> provider.allocate(StorageKind.SYSTEM, 64, 3))
                .hasMessageContaining("alignment 3").hasMessageContaining("power of two");
        assertThatThrownBy(() -> provider.allocate(StorageKind.device(0), 64))
                .hasMessageContaining("cannot allocate Device(0) storage");
        assertThat(provider.bytesOutstanding()).isZero();
    }

    @Test
    void anImpossibleAllocationIsAnExceptionNotACrash() {
        assertThatThrownBy(() -> provider.allocate(StorageKind.SYSTEM, Long.MAX_VALUE / 2))
                .isInstanceOf(KvbmException.class)
                .hasMessageContaining("could not allocate");
        assertThat(provider.allocationsOutstanding()).isZero();
    }

    @Test
    void closeIsIdempotentAndUseAfterCloseThrows() {
        Storage s = provider.allocate(StorageKind.SYSTEM, 4096);
        MemorySegment seg = ((HostStorage) s).segment();
        assertThat(provider.bytesOutstanding()).isEqualTo(4096);
        s.close();
        s.close();
        assertThat(s.isClosed()).isTrue();
        assertThat(provider.bytesOutstanding()).isZero();
        assertThat(provider.allocationsOutstanding()).isZero();
        assertThatThrownBy(((HostStorage) s)::segment).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("is closed");
        // A segment obtained before close is dead too: the JDK refuses, nothing reads freed memory.
        assertThatThrownBy(() -> seg.get(ValueLayout.JAVA_BYTE, 0)).isInstanceOf(IllegalStateException.class);
        assertThat(s.region().size()).isEqualTo(4096);
    }

    @Test
    void tenThousandAllocationsAcrossFourThreadsLeaveNothingOutstanding() throws Exception {
        long before = provider.bytesOutstanding();
        int threads = 4;
        int perThread = 2500;
        CountDownLatch start = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<Long>> results = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                results.add(pool.submit(() -> {
                    start.await();
                    long touched = 0;
                    ThreadLocalRandom random = ThreadLocalRandom.current();
                    List<Storage> held = new ArrayList<>();
                    for (int i = 0; i < perThread; i++) {
                        Storage s = provider.allocate(StorageKind.SYSTEM, 1 + random.nextInt(64 * 1024),
                                1L << random.nextInt(13));
                        ((HostStorage) s).segment().set(ValueLayout.JAVA_BYTE, s.size() - 1, (byte) 1);
                        touched++;
                        held.add(s);
                        if (held.size() > 16 || random.nextBoolean()) {
                            held.remove(random.nextInt(held.size())).close();
                        }
                    }
                    held.forEach(Storage::close);
                    return touched;
                }));
            }
            start.countDown();
            long total = 0;
            for (Future<Long> f : results) {
                total += f.get();
            }
            assertThat(total).isEqualTo(10_000);
        } finally {
            pool.shutdownNow();
        }
        assertThat(provider.bytesOutstanding()).isEqualTo(before);
        assertThat(provider.allocationsOutstanding()).isZero();
    }
}
