package dev.kvbm.backend.cuda;

import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.HostStorage;
import dev.kvbm.api.spi.Storage;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The binding against the stand-in (a TEST DOUBLE of the driver): availability reasons, error mapping with the
 * call and its arguments, contexts per thread, accounting, and pinning memory allocated elsewhere.
 */
class CudaDriverTest {

    @AfterEach
    void reset() {
        CudaStandIn s = CudaStandIn.get();
        s.clearFailure();
        s.driverVersion(13000);
    }

    @Test
    void aMissingLibraryIsReportedAsTheReasonTheBackendIsUnavailable() {
        CudaDriver.Probe probe = CudaDriver.probe("/nonexistent/libcuda.so.1");
        assertThat(probe.driver()).isNull();
        assertThat(probe.cause().getMessage()).contains("/nonexistent/libcuda.so.1", "could not be loaded");
        CudaDeviceStorageProvider provider = new CudaDeviceStorageProvider(probe);
        assertThat(provider.isAvailable()).isFalse();
        assertThatThrownBy(() -> provider.allocate(StorageKind.device(0), 4096))
                .isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("could not be loaded");
    }

    @Test
    void aDriverOlderThanCuda12IsRefusedByVersion() {
        CudaStandIn s = CudaStandIn.get();
        s.driverVersion(11080);
        CudaDriver.Probe probe = CudaDriver.probe(s.library.toString());
        assertThat(probe.cause()).hasMessageContaining("version 11.8 (11080)").hasMessageContaining("needs 12.0");
    }

    @Test
    void aFailingCuInitNamesTheDriversError() {
        CudaStandIn s = CudaStandIn.get();
        s.failNext("cuInit", 100, 0);
        CudaDriver.Probe probe = CudaDriver.probe(s.library.toString());
        assertThat(probe.cause()).hasMessageContaining("cuInit(flags=0) failed: CUDA_ERROR_NO_DEVICE"
                + " (no CUDA-capable device is detected)");
    }

    @Test
    void outOfMemoryBecomesAnExceptionNamingTheCallAndTheSizeAndNothingIsCounted() {
        CudaStandIn s = CudaStandIn.get();
        CudaDeviceStorageProvider device = s.device();
        long live = s.liveAllocations();
        s.failNext("cuMemAlloc_v2", 2, 0);
        assertThatThrownBy(() -> device.allocate(StorageKind.device(0), 1L << 30))
                .isInstanceOfSatisfying(CudaException.class, e -> {
                    assertThat(e.result()).isEqualTo(2);
                    assertThat(e.call()).isEqualTo("cuMemAlloc_v2");
                })
                .hasMessage("cuMemAlloc_v2(bytes=1073741824) failed: CUDA_ERROR_OUT_OF_MEMORY (out of memory)");
        assertThat(device.bytesOutstanding()).isZero();
        assertThat(device.allocationsOutstanding()).isZero();
        assertThat(s.liveAllocations()).isEqualTo(live);

        CudaPinnedStorageProvider pinned = s.pinned();
        s.failNext("cuMemHostAlloc", 2, 0);
        assertThatThrownBy(() -> pinned.allocate(StorageKind.PINNED, 12345))
                .isInstanceOf(CudaException.class)
                .hasMessageContaining("cuMemHostAlloc(bytes=12345, flags=0x3) failed: CUDA_ERROR_OUT_OF_MEMORY");
        assertThat(pinned.bytesOutstanding()).isZero();
    }

    @Test
    void everyThreadGetsTheContextMadeCurrentBeforeItsFirstCall() throws Exception {
        CudaStandIn s = CudaStandIn.get();
        CudaDriver driver = s.probe.driver();
        // A fresh thread has no current context: the raw call fails as CUDA's would...
        CompletableFuture<Throwable> raw = new CompletableFuture<>();
        Thread.ofPlatform().start(() -> {
            try {
                driver.memFree(driver.memAlloc(64));
                raw.complete(null);
            } catch (Throwable t) {
                raw.complete(t);
            }
        });
        assertThat(raw.get()).isInstanceOf(CudaException.class).hasMessageContaining("CUDA_ERROR_INVALID_CONTEXT");
        // ...while the providers make it current on whichever thread allocates or closes.
        CompletableFuture<Storage> allocated = CompletableFuture.supplyAsync(
                () -> s.device().allocate(StorageKind.device(0), 4096), r -> Thread.ofPlatform().start(r));
        Storage storage = allocated.get();
        CompletableFuture.runAsync(storage::close, r -> Thread.ofPlatform().start(r)).get();
        assertThat(storage.isClosed()).isTrue();
    }

    @Test
    void alignmentsAboveTheDriversAreHonouredAndCountedAtTheAskedSize() {
        CudaStandIn s = CudaStandIn.get();
        CudaDeviceStorageProvider device = s.device();
        try (Storage storage = device.allocate(StorageKind.device(0), 1000, 1 << 16)) {
            assertThat(storage.region().address() % (1 << 16)).isZero();
            assertThat(storage.size()).isEqualTo(1000);
            assertThat(device.bytesOutstanding()).isEqualTo(1000);
        }
        assertThat(device.bytesOutstanding()).isZero();
        assertThatThrownBy(() -> device.allocate(StorageKind.device(3), 64))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("there is no CUDA device 3");
    }

    @Test
    void memoryAllocatedElsewhereIsPinnedAndUnpinnedWithoutBeingFreed() {
        CudaStandIn s = CudaStandIn.get();
        CudaPinnedStorageProvider pinned = s.pinned();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment memory = arena.allocate(1 << 16, 4096);
            memory.fill((byte) 7);
            long live = s.liveAllocations();
            HostStorage view = pinned.pin(memory);
            assertThat(view.kind()).isEqualTo(StorageKind.PINNED);
            assertThat(view.region().address()).isEqualTo(memory.address());
            assertThat(s.liveAllocations()).isEqualTo(live + 1);
            assertThat(pinned.bytesOutstanding()).isEqualTo(1 << 16);
            view.close();
            assertThat(s.liveAllocations()).isEqualTo(live);
            assertThat(pinned.bytesOutstanding()).isZero();
            assertThat(memory.get(ValueLayout.JAVA_BYTE, 100)).isEqualTo((byte) 7); // still ours, still readable
        }
        assertThatThrownBy(() -> pinned.pin(MemorySegment.ofArray(new byte[16])))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("native memory");
    }

    @Test
    void aSizeThatOverflowsWithItsAlignmentIsRefusedByName() {
        CudaStandIn s = CudaStandIn.get();
        long live = s.liveAllocations();
        assertThatThrownBy(() -> s.device().allocate(StorageKind.device(0), Long.MAX_VALUE - 100, 1 << 20))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("overflows");
        assertThatThrownBy(() -> s.pinned().allocate(StorageKind.PINNED, Long.MAX_VALUE, 1 << 16))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("overflows");
        assertThatThrownBy(() -> s.device().allocate(StorageKind.device(0), 64, 1L << 31))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("exceeds 1 GiB");
        assertThat(s.liveAllocations()).isEqualTo(live);
    }

    @Test
    void memoryWhoseArenaIsClosedIsNotPinned() {
        CudaStandIn s = CudaStandIn.get();
        MemorySegment freed;
        try (Arena arena = Arena.ofConfined()) {
            freed = arena.allocate(4096, 4096);
        }
        assertThatThrownBy(() -> s.pinned().pin(freed)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("already freed");
    }

    @Test
    void writeCombinedPinnedMemoryAsksTheDriverForItAndIsReadableAndWritable() {
        CudaStandIn s = CudaStandIn.get();
        CudaPinnedStorageProvider wc = s.pinned().writeCombined();
        try (Storage storage = wc.allocate(StorageKind.PINNED, 8192)) {
            assertThat(s.lastHostAllocFlags()).isEqualTo(CudaDriver.MEMHOSTALLOC_PORTABLE
                    | CudaDriver.MEMHOSTALLOC_DEVICEMAP | CudaDriver.MEMHOSTALLOC_WRITECOMBINED);
            byte[] bytes = {1, 2, 3, 4};
            CudaKits.write(s.probe, storage, 100, bytes);
            assertThat(CudaKits.read(s.probe, storage, 100, 4)).containsExactly(bytes);
        }
        try (Storage plain = s.pinned().allocate(StorageKind.PINNED, 8192)) {
            assertThat(s.lastHostAllocFlags()).isEqualTo(CudaDriver.MEMHOSTALLOC_PORTABLE
                    | CudaDriver.MEMHOSTALLOC_DEVICEMAP);
        }
        assertThat(wc.bytesOutstanding()).isZero();
    }
}
