package dev.kvbm.tck;

import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.FileStorage;
import dev.kvbm.api.spi.HostStorage;
import dev.kvbm.api.spi.Storage;
import dev.kvbm.api.spi.StorageCapabilities;
import dev.kvbm.api.spi.StorageProvider;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Rules 1.x of docs/tck-spec.md for a {@link StorageProvider}: a backend's test extends this class and says which
 * provider and which storage kind to verify. What the provider promises beyond the SPI's minimum (largest alignment,
 * largest allocation, zeroed memory) is read from the provider itself, {@link StorageProvider#capabilities}, so this
 * class and the kit's runner hold it to the same promises; a rule that needs a promise the provider does not make is
 * skipped with the reason.
 *
 * <pre>{@code
 * class MyStorageConformanceTest extends StorageVerification {
 *     protected StorageProvider provider() { return new MyProvider(); }
 *     protected StorageKind kind() { return StorageKind.SYSTEM; }
 * }
 * }</pre>
 */
public abstract class StorageVerification {

    /** The provider under test; may return the same instance every time. */
    protected abstract StorageProvider provider();

    /** The kind of storage to allocate. */
    protected abstract StorageKind kind();

    /** Threads of rules 1.7 and 1.12. */
    private static final int THREADS = 8;

    /** Storages each thread allocates in rules 1.7 and 1.12. */
    private static final int PER_THREAD = 200;

    /** Rule 1.14's probe per verification class, provider and kind: empty when one byte was allocated, else why not. */
    private static final java.util.Map<List<Object>, Optional<String>> PROBES = new java.util.concurrent.ConcurrentHashMap<>();

    private StorageCapabilities capabilities() {
        return provider().capabilities(kind());
    }

    /** Writes bytes into a storage; override for storage the CPU cannot reach. */
    protected void write(Storage storage, long offset, byte[] bytes) {
        Bytes.write(storage, offset, bytes);
    }

    /** Reads bytes from a storage; override for storage the CPU cannot reach. */
    protected byte[] read(Storage storage, long offset, int length) {
        return Bytes.read(storage, offset, length);
    }

    /**
     * The provider, when it is available and supports the kind; otherwise the rule is skipped with the reason. When
     * it says it is available but cannot make its smallest allocation, every rule but 1.14 is skipped, naming 1.14:
     * the one defect gives one failure, not a failure in every row.
     */
    private StorageProvider available() {
        StorageProvider p = availableUnprobed();
        Optional<String> broken = PROBES.computeIfAbsent(List.of(getClass(), p, kind()), c -> probe(p));
        assumeTrue(broken.isEmpty(), () -> "rule 1.14 fails: " + broken.orElseThrow());
        return p;
    }

    private StorageProvider availableUnprobed() {
        StorageProvider p = provider();
        assumeTrue(p.isAvailable(), () -> "provider " + p.name() + " is unavailable: "
                + p.unavailabilityCause().map(Throwable::getMessage).orElse("?"));
        assumeTrue(p.supports(kind()), () -> "provider " + p.name() + " does not support " + kind());
        return p;
    }

    /** Empty when one byte can be allocated and closed; else what went wrong. */
    private Optional<String> probe(StorageProvider p) {
        try (Storage s = p.allocate(kind(), 1, 1)) {
            return s.size() == 1 ? Optional.empty()
                    : Optional.of("allocate(" + kind() + ", 1, 1) returned " + s.size() + " bytes");
        } catch (RuntimeException | OutOfMemoryError e) {
            return Optional.of(String.format(Locale.ROOT, "provider %s says it is available, but allocate(%s, 1, 1)"
                            + " threw %s; a provider that cannot allocate must say so in unavailabilityCause()",
                    p.name(), kind(), e));
        }
    }

    @Test
    public void required_1_1_allocationHonoursSizeAndAlignment() {
        StorageProvider p = available();
        long[] sizes = {1, 7, 4097, (1 << 20) + 3};
        long maxAlignment = capabilities().maxAlignment();
        List<Long> alignments = new ArrayList<>(List.of(1L, 8L, 64L, 4096L));
        alignments.removeIf(a -> a > maxAlignment);
        alignments.add(maxAlignment);
        for (long size : sizes) {
            for (long alignment : alignments) {
                try (Storage s = p.allocate(kind(), size, alignment)) {
                    assertEquals(size, s.size(), String.format(Locale.ROOT,
                            "allocate(%s, %d, %d) returned %d bytes; the storage must be exactly the requested size",
                            kind(), size, alignment, s.size()));
                    assertEquals(0, Long.remainderUnsigned(s.region().address(), alignment), String.format(Locale.ROOT,
                            "allocate(%s, %d, %d) returned address 0x%x, which is not a multiple of %d",
                            kind(), size, alignment, s.region().address(), alignment));
                    assertEquals(kind().type(), s.kind().type(), "the storage reports kind " + s.kind()
                            + " but " + kind() + " was requested");
                }
            }
        }
    }

    @Test
    public void required_1_2_nonPositiveSizesAreRejected() {
        StorageProvider p = available();
        long count = p.allocationsOutstanding();
        for (long size : new long[] {0, -1, Long.MIN_VALUE}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> p.allocate(kind(), size, 64).close(),
                    "allocate(" + kind() + ", " + size + ") must throw IllegalArgumentException");
            assertTrue(e.getMessage() != null && e.getMessage().contains(Long.toString(size)),
                    "the message must name the rejected size " + size + ", was: " + e.getMessage());
        }
        assertEquals(count, p.allocationsOutstanding(), "a rejected allocation must not be counted as outstanding");
    }

    @Test
    public void required_1_3_alignmentThatIsNotAPowerOfTwoIsRejected() {
        StorageProvider p = available();
        for (long alignment : new long[] {0, 3, 48, -64}) {
            assertThrows(IllegalArgumentException.class, () -> p.allocate(kind(), 64, alignment).close(),
                    "allocate with alignment " + alignment + " must throw IllegalArgumentException");
        }
    }

    @Test
    public void required_1_4_closeIsIdempotent() {
        StorageProvider p = available();
        long bytes = p.bytesOutstanding();
        long count = p.allocationsOutstanding();
        Storage s = p.allocate(kind(), 8192, 64);
        s.close();
        try {
            s.close();
            s.close();
        } catch (RuntimeException e) {
            fail("a second close() must do nothing, but it threw " + e, e);
        }
        assertEquals(bytes, p.bytesOutstanding(), "bytes outstanding changed after closing one storage three times");
        assertEquals(count, p.allocationsOutstanding(),
                "allocations outstanding changed after closing one storage three times");
    }

    @Test
    public void required_1_5_useAfterCloseThrowsIllegalState() {
        StorageProvider p = available();
        Storage s = p.allocate(kind(), 4096, 64);
        MemorySegment earlier = s instanceof HostStorage h ? h.segment() : null;
        s.close();
        assertTrue(s.isClosed(), "isClosed() must be true after close()");
        switch (s) {
            case HostStorage h -> {
                assertThrows(IllegalStateException.class, h::segment, "segment() after close must throw");
                assertThrows(IllegalStateException.class, () -> earlier.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0),
                        "a segment obtained before close must refuse access after close");
            }
            case FileStorage f -> {
                try (var arena = java.lang.foreign.Arena.ofConfined()) {
                    MemorySegment buffer = arena.allocate(16);
                    assertThrows(IllegalStateException.class, () -> f.read(0, buffer), "read after close must throw");
                    assertThrows(IllegalStateException.class, () -> f.write(0, buffer), "write after close must throw");
                }
            }
            default -> {
                // Other storage exposes no accessor of its own; executors must refuse it (rule 2.5).
            }
        }
    }

    @Test
    public void required_1_6_accountingReturnsToZeroAfterClose() {
        StorageProvider p = available();
        long bytes = p.bytesOutstanding();
        long count = p.allocationsOutstanding();
        List<Storage> storages = new ArrayList<>();
        long total = 0;
        for (int i = 1; i <= 5; i++) {
            storages.add(p.allocate(kind(), i * 1000L, 64));
            total += i * 1000L;
        }
        assertEquals(bytes + total, p.bytesOutstanding(), "bytesOutstanding must count every open allocation");
        assertEquals(count + 5, p.allocationsOutstanding(), "allocationsOutstanding must count every open allocation");
        storages.forEach(Storage::close);
        assertEquals(bytes, p.bytesOutstanding(), "bytes outstanding must return to where they were after close");
        assertEquals(count, p.allocationsOutstanding(), "allocations outstanding must return after close");
    }

    @Test
    public void required_1_7_allocateAndCloseFromEightThreadsAtOnce() throws Exception {
        StorageProvider p = available();
        long bytes = p.bytesOutstanding();
        onEightThreads(thread -> {
            SplittableRandom random = new SplittableRandom(thread);
            List<Storage> open = new ArrayList<>();
            for (int i = 0; i < PER_THREAD; i++) {
                open.add(p.allocate(kind(), 1 + random.nextInt(64 * 1024), 64));
                if (open.size() > 4 || random.nextBoolean()) {
                    open.remove(random.nextInt(open.size())).close();
                }
            }
            open.forEach(Storage::close);
        });
        assertEquals(bytes, p.bytesOutstanding(), "after 8 threads allocated and closed concurrently, "
                + (p.bytesOutstanding() - bytes) + " bytes are still counted as outstanding");
    }

    /** What each of the threads of {@link #onEightThreads} runs, given its index. */
    private interface ThreadBody {
        void run(int thread) throws Exception;
    }

    /** Runs {@code body} on {@value #THREADS} threads released together, and waits for all of them. */
    private static void onEightThreads(ThreadBody body) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(THREADS);
        CountDownLatch start = new CountDownLatch(1);
        try {
            List<Future<Void>> done = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                int thread = t;
                done.add(pool.submit((Callable<Void>) () -> {
                    start.await();
                    body.run(thread);
                    return null;
                }));
            }
            start.countDown();
            for (Future<Void> f : done) {
                f.get(2, TimeUnit.MINUTES);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    public void required_1_8_bytesWrittenAreReadBack() {
        StorageProvider p = available();
        SplittableRandom random = new SplittableRandom(18);
        try (Storage s = p.allocate(kind(), 256 * 1024 + 13, 64)) {
            byte[] bytes = Bytes.random(random, (int) s.size());
            write(s, 0, bytes);
            byte[] back = read(s, 0, bytes.length);
            int at = java.util.Arrays.mismatch(bytes, back);
            assertEquals(-1, at, "byte " + at + " read back differs from what was written");
            byte[] piece = Bytes.random(random, 1001);
            write(s, 4099, piece);
            assertEquals(-1, java.util.Arrays.mismatch(piece, read(s, 4099, piece.length)),
                    "an unaligned write of 1001 bytes at offset 4099 did not read back");
        }
    }

    @Test
    public void required_1_9_unsupportedKindIsRejected() {
        StorageProvider p = available();
        // A vendor kind of the kit's own, travelling as this kind's type: nobody declares it, so nobody allocates it
        // (a provider that checks only kind.type() would hand out its memory under another vendor's kind).
        StorageKind foreign = StorageKind.vendor("kvbm-tck-nobody", kind().type(),
                kind().type() == StorageKind.Type.DEVICE ? kind().id() : 0);
        assertTrue(!p.supports(foreign), () -> "supports(" + foreign + ") is true, but that is a vendor kind no provider"
                + " declares; compare kinds with equals() (or check isVendor()), not type() alone");
        List<StorageKind> others = new ArrayList<>(java.util.stream.Stream.of(StorageKind.SYSTEM, StorageKind.PINNED,
                StorageKind.device(0), StorageKind.disk(0)).filter(k -> !p.supports(k)).toList());
        others.add(foreign);
        for (StorageKind other : others) {
            assertThrows(IllegalArgumentException.class, () -> p.allocate(other, 64, 64).close(),
                    "allocate(" + other + ") must throw IllegalArgumentException when supports(" + other + ") is false");
        }
    }

    @Test
    public void optional_1_10_largestDeclaredAllocationSucceeds() {
        StorageProvider p = available();
        long largest = capabilities().largestAllocation();
        assumeTrue(largest > 0, () -> p.name() + " promises no largest allocation for " + kind()
                + " (StorageProvider.capabilities(kind).largestAllocation() is 0)");
        try (Storage s = p.allocate(kind(), largest, p.defaultAlignment())) {
            assertEquals(largest, s.size());
            byte[] tail = {1, 2, 3, 4, 5, 6, 7, 8};
            write(s, largest - tail.length, tail);
            assertEquals(-1, java.util.Arrays.mismatch(tail, read(s, largest - tail.length, tail.length)),
                    "the last bytes of the largest allocation did not read back");
        }
    }

    @Test
    public void required_1_11_fileWritesSharingAnAlignedUnitAllLandAndUnalignedIoTouchesNothingElse() throws Exception {
        StorageProvider p = available();
        int writers = 8;
        int piece = 1000; // not a divisor of any block size: neighbours share every 512- or 4096-byte unit
        int pieces = 32;
        long size = (long) writers * piece * pieces + 333;
        try (Storage small = p.allocate(kind(), 1, 1)) {
            assumeTrue(small instanceof FileStorage, () -> kind() + " storage is not FileStorage: rule 1.11 is for files");
        }
        try (Storage s = p.allocate(kind(), size, p.defaultAlignment());
             java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofShared()) {
            FileStorage file = (FileStorage) s;
            ExecutorService pool = Executors.newFixedThreadPool(writers);
            try {
                CountDownLatch start = new CountDownLatch(1);
                List<Future<?>> done = new ArrayList<>();
                for (int w = 0; w < writers; w++) {
                    int writer = w;
                    // Host memory one byte off any alignment, as a caller's buffer may be.
                    MemorySegment data = arena.allocate(piece + 1L, 4096).asSlice(1, piece).fill((byte) (writer + 1));
                    done.add(pool.submit((Callable<Void>) () -> {
                        start.await();
                        for (int i = 0; i < pieces; i++) {
                            file.write(((long) i * writers + writer) * piece, data);
                        }
                        return null;
                    }));
                }
                start.countDown();
                for (Future<?> f : done) {
                    f.get(60, TimeUnit.SECONDS);
                }
            } finally {
                pool.shutdownNow();
            }
            byte guard = (byte) 0xA5;
            MemorySegment space = arena.allocate(size + 64, 4096).fill(guard);
            MemorySegment back = space.asSlice(3, size - 333);
            file.read(0, back);
            for (long i = 0; i < back.byteSize(); i++) {
                byte expected = (byte) ((i / piece) % writers + 1);
                if (back.get(java.lang.foreign.ValueLayout.JAVA_BYTE, i) != expected) {
                    fail(String.format(Locale.ROOT, "byte %d reads %d, written %d by writer %d: a concurrent write to"
                                    + " a neighbouring range that shares its aligned unit was lost (%s)", i,
                            back.get(java.lang.foreign.ValueLayout.JAVA_BYTE, i), expected, expected - 1, file));
                }
            }
            for (long i = 0; i < space.byteSize(); i++) {
                if ((i < 3 || i >= 3 + back.byteSize()) && space.get(java.lang.foreign.ValueLayout.JAVA_BYTE, i) != guard) {
                    fail("an unaligned read of " + back.byteSize() + " bytes changed host byte " + i
                            + " outside its destination (" + file + ")");
                }
            }
        }
    }

    @Test
    public void required_1_12_noTwoLiveStoragesShareMemory() throws Exception {
        StorageProvider p = available();
        boolean addressed = kind().type() != StorageKind.Type.DISK; // every file's region starts at 0
        java.util.NavigableMap<Long, Long> live = new java.util.TreeMap<>(); // start -> end, guarded by itself
        java.util.concurrent.atomic.AtomicReference<String> alias = new java.util.concurrent.atomic.AtomicReference<>();
        onEightThreads(thread -> {
            SplittableRandom random = new SplittableRandom(112 + thread);
            List<Stamped> open = new ArrayList<>();
            try {
                for (int i = 0; i < PER_THREAD && alias.get() == null; i++) {
                    Storage s = p.allocate(kind(), 64 + random.nextInt(16 * 1024), 64);
                    Stamped stamped = new Stamped(s, stamp(thread, i));
                    open.add(stamped);
                    if (addressed) {
                        long from = s.region().address();
                        long to = from + s.size();
                        synchronized (live) {
                            var below = live.floorEntry(to - 1);
                            if (below != null && below.getValue() > from) {
                                alias.compareAndSet(null, String.format(Locale.ROOT, "%s [0x%x, 0x%x) overlaps"
                                                + " a live storage at [0x%x, 0x%x): the allocator handed out the"
                                                + " same memory twice", s, from, to, below.getKey(),
                                        below.getValue()));
                            }
                            live.put(from, to);
                        }
                    }
                    write(s, 0, stamped.pattern);
                    write(s, s.size() - stamped.pattern.length, stamped.pattern);
                    if (open.size() > 4 || random.nextBoolean()) {
                        retire(open.remove(random.nextInt(open.size())), live, addressed, alias);
                    }
                }
            } finally {
                for (Stamped stamped : open) {
                    retire(stamped, live, addressed, alias);
                }
            }
        });
        if (alias.get() != null) {
            fail(alias.get());
        }
    }

    /** A storage and the pattern written at its both ends, distinct for every allocation of the rule. */
    private record Stamped(Storage storage, byte[] pattern) {
    }

    private static byte[] stamp(int thread, int i) {
        byte[] pattern = new byte[16];
        java.nio.ByteBuffer.wrap(pattern).putLong(0x6b76626d_00000000L | ((long) thread << 24) | i)
                .putLong(~(((long) thread << 32) | i));
        return pattern;
    }

    /** Checks both stamps of a storage still read back, then closes it. */
    private void retire(Stamped stamped, java.util.NavigableMap<Long, Long> live, boolean addressed,
                        java.util.concurrent.atomic.AtomicReference<String> alias) {
        Storage s = stamped.storage();
        try {
            for (long offset : new long[] {0, s.size() - stamped.pattern.length}) {
                byte[] back = read(s, offset, stamped.pattern.length);
                if (!java.util.Arrays.equals(back, stamped.pattern)) {
                    alias.compareAndSet(null, String.format(Locale.ROOT, "the %d bytes written at offset %d of %s were"
                                    + " overwritten while it was live: another live storage shares its memory"
                                    + " (written %s, read %s)", stamped.pattern.length, offset, s,
                            java.util.HexFormat.of().formatHex(stamped.pattern),
                            java.util.HexFormat.of().formatHex(back)));
                }
            }
        } finally {
            if (addressed) {
                synchronized (live) {
                    live.remove(s.region().address());
                }
            }
            s.close();
        }
    }

    @Test
    public void optional_1_13_newMemoryReadsAsZeros() {
        StorageProvider p = available();
        assumeTrue(capabilities().zeroed(), () -> p.name() + " does not promise zeroed memory for " + kind()
                + " (StorageProvider.capabilities(kind).zeroed() is false; the SPI does not require it)");
        for (int round = 0; round < 4; round++) {
            // Dirty memory first, so an allocator that reuses freed memory without zeroing it shows.
            try (Storage dirty = p.allocate(kind(), 64 * 1024, 64)) {
                byte[] ones = new byte[(int) dirty.size()];
                java.util.Arrays.fill(ones, (byte) 0x5a);
                write(dirty, 0, ones);
            }
            try (Storage s = p.allocate(kind(), 64 * 1024, 64)) {
                byte[] bytes = read(s, 0, (int) s.size());
                for (int i = 0; i < bytes.length; i++) {
                    if (bytes[i] != 0) {
                        fail(String.format(Locale.ROOT, "byte %d of a new %d-byte %s allocation reads 0x%02x; %s"
                                        + " promises zeroed memory (capabilities(kind).zeroed())", i, s.size(), kind(),
                                bytes[i], p.name()));
                    }
                }
            }
        }
    }

    @Test
    public void required_1_14_anAvailableProviderAllocatesItsSmallestAllocation() {
        StorageProvider p = availableUnprobed();
        Optional<String> broken = PROBES.computeIfAbsent(List.of(getClass(), p, kind()), c -> probe(p));
        if (broken.isPresent()) {
            fail(broken.get());
        }
    }

    @Test
    public void required_1_15_anAllocationThatCannotBeHadFailsCleanly() {
        StorageProvider p = available();
        long bytes = p.bytesOutstanding();
        long count = p.allocationsOutstanding();
        for (long size : new long[] {1L << 62, Long.MAX_VALUE}) {
            Throwable thrown = null;
            try (Storage s = p.allocate(kind(), size, p.defaultAlignment())) {
                fail(String.format(Locale.ROOT, "allocate(%s, %d) returned %s: no machine has that much", kind(), size,
                        s));
            } catch (dev.kvbm.api.KvbmException | IllegalArgumentException | UnsupportedOperationException e) {
                thrown = e;
            } catch (Throwable e) {
                fail(String.format(Locale.ROOT, "allocate(%s, %d) threw %s; an allocation that cannot be had fails"
                        + " with KvbmException (or IllegalArgumentException for a size the provider can never"
                        + " deliver), saying how much was asked", kind(), size, e), e);
            }
            assertTrue(thrown.getMessage() != null && !thrown.getMessage().isBlank(),
                    () -> "allocate(" + kind() + ", " + size + ") failed without a message");
            assertEquals(bytes, p.bytesOutstanding(), "a failed allocation of " + size + " bytes changed bytesOutstanding");
            assertEquals(count, p.allocationsOutstanding(),
                    "a failed allocation of " + size + " bytes changed allocationsOutstanding");
        }
        try (Storage s = p.allocate(kind(), 4096, 64)) {
            assertEquals(4096, s.size(), "after failed allocations the provider must still allocate");
        }
    }
}
