package dev.kvbm.tck.runner;

import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.Backends;
import dev.kvbm.api.spi.RegionPair;
import dev.kvbm.api.spi.Storage;
import dev.kvbm.api.spi.TransferBatch;
import dev.kvbm.api.spi.TransferExecutor;
import dev.kvbm.api.spi.TransferExecutorProvider;
import dev.kvbm.tck.Bytes;

import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * How the runner puts bytes into storage the CPU cannot reach (GPU memory) and reads them back: through System
 * memory and an executor that copies System↔that kind, preferably of the storage's own backend. A backend's own
 * verification subclass can do better with its own hooks; through the runner, a device-memory rule therefore also
 * relies on that executor (whose own rules the runner verifies too).
 */
final class Reach {
    static volatile Backends backends;
    /** One executor per direction for the whole run (a GPU executor loads its kernel when created). */
    private static final java.util.Map<java.util.List<StorageKind>, TransferExecutor> EXECUTORS =
            new java.util.concurrent.ConcurrentHashMap<>();

    private Reach() {
    }

    static void write(Storage storage, long offset, byte[] bytes) {
        if (reachable(storage.kind())) {
            Bytes.write(storage, offset, bytes);
            return;
        }
        try (Storage host = system().allocate(StorageKind.SYSTEM, Math.max(1, bytes.length))) {
            Bytes.write(host, 0, bytes);
            copy(executor(StorageKind.SYSTEM, storage.kind()), host, host.region().slice(0, bytes.length), storage,
                    storage.region().slice(offset, bytes.length));
        }
    }

    static byte[] read(Storage storage, long offset, int length) {
        if (reachable(storage.kind())) {
            return Bytes.read(storage, offset, length);
        }
        try (Storage host = system().allocate(StorageKind.SYSTEM, Math.max(1, length))) {
            copy(executor(storage.kind(), StorageKind.SYSTEM), storage, storage.region().slice(offset, length), host, host.region().slice(0, length));
            return Bytes.read(host, 0, length);
        }
    }

    private static boolean reachable(StorageKind kind) {
        return kind.isHostAccessible() || kind.type() == StorageKind.Type.DISK;
    }

    private static dev.kvbm.api.spi.StorageProvider system() {
        return current().storageProvider(StorageKind.SYSTEM);
    }

    private static TransferExecutor executor(StorageKind from, StorageKind to) {
        return EXECUTORS.computeIfAbsent(List.of(from, to), k -> provider(from, to).create());
    }

    private static TransferExecutorProvider provider(StorageKind from, StorageKind to) {
        return current().findExecutorProvider(from, to).orElseThrow(() -> new UnsupportedOperationException(
                "the kit reaches " + (from.isHostAccessible() ? to : from) + " memory through an executor that copies "
                        + from + " -> " + to + ", and no selected backend provides one"));
    }

    /** Closes the executors of the run; the runner calls it when every subject was verified. */
    static void closeAll() {
        for (TransferExecutor executor : EXECUTORS.values()) {
            executor.close();
        }
        EXECUTORS.clear();
    }

    private static Backends current() {
        Backends b = backends;
        if (b == null) {
            throw new IllegalStateException("no backends are being verified; run through TckRunner");
        }
        return b;
    }

    private static void copy(TransferExecutor executor, Storage src, dev.kvbm.api.MemoryRegion from, Storage dst,
                             dev.kvbm.api.MemoryRegion to) {
        try {
            executor.execute(new TransferBatch(src, dst, List.of(new RegionPair(from, to)))).get(60, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException("the kit could not move bytes to or from " + dst.kind() + " memory: " + e,
                    e);
        }
    }
}
