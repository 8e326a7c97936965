package dev.kvbm.tck;

import dev.kvbm.api.MemoryRegion;
import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.FileStorage;
import dev.kvbm.api.spi.HostStorage;
import dev.kvbm.api.spi.Lifetime;
import dev.kvbm.api.spi.Storage;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A storage the kit hands to an executor in place of the provider's, with a {@link Lifetime} of the kit's own, so
 * that rule 2.10 sees the executor's leases through the storage's lifetime rather than through Java's segment checks:
 * how many leases it took, how many it still holds, and whether closing the storage had to wait for one. Closing
 * the watched storage closes the storage it wraps, after the kit's lifetime let it (no lease held). Only host and
 * file storage can be watched: their accessors are part of the SPI; other storage (device memory) is reached
 * through classes of its own backend, which a wrapper cannot stand in for.
 */
abstract sealed class Watched implements Storage permits Watched.Host, Watched.File {
    final Storage inner;
    private final Lifetime lifetime;
    /** Leases taken so far. */
    final AtomicInteger taken = new AtomicInteger();
    /** Leases held now. */
    final AtomicInteger held = new AtomicInteger();

    private Watched(Storage inner) {
        this.inner = inner;
        this.lifetime = new Lifetime(() -> "the kit's watch over " + inner);
    }

    /**
     * {@return a watched stand-in for {@code storage}, or null when it is neither host nor file storage}
     *
     * @param storage a provider's storage; closing the stand-in closes it
     */
    static Watched of(Storage storage) {
        return switch (storage) {
            case HostStorage h -> new Host(h);
            case FileStorage f -> new File(f);
            default -> null;
        };
    }

    @Override
    public StorageKind kind() {
        return inner.kind();
    }

    @Override
    public MemoryRegion region() {
        return inner.region();
    }

    @Override
    public boolean isClosed() {
        return lifetime.isClosed();
    }

    @Override
    public Lifetime.Lease acquire() {
        Lifetime.Lease lease = lifetime.acquire();
        taken.incrementAndGet();
        held.incrementAndGet();
        AtomicBoolean released = new AtomicBoolean();
        return () -> {
            if (released.compareAndSet(false, true)) {
                held.decrementAndGet();
                lease.close();
            }
        };
    }

    @Override
    public Lifetime.Hook onClose(String holder, Runnable withdraw) {
        return lifetime.onClose(holder, withdraw);
    }

    /** Waits for the leases held, then closes the wrapped storage. */
    @Override
    public void close() {
        lifetime.close(inner::close);
    }

    /** Fails the access when the watched storage is closed: its memory may be gone. */
    void requireOpen() {
        if (!lifetime.isOpen()) {
            throw new IllegalStateException(this + " is closed");
        }
    }

    @Override
    public String toString() {
        return inner.toString();
    }

    static final class Host extends Watched implements HostStorage {
        private Host(HostStorage inner) {
            super(inner);
        }

        @Override
        public MemorySegment segment() {
            requireOpen();
            return ((HostStorage) inner).segment();
        }
    }

    static final class File extends Watched implements FileStorage {
        private File(FileStorage inner) {
            super(inner);
        }

        private FileStorage file() {
            return (FileStorage) inner;
        }

        @Override
        public Path path() {
            return file().path();
        }

        @Override
        public boolean directIo() {
            return file().directIo();
        }

        @Override
        public long ioAlignment() {
            return file().ioAlignment();
        }

        @Override
        public void read(long offset, MemorySegment destination) {
            requireOpen();
            file().read(offset, destination);
        }

        @Override
        public void write(long offset, MemorySegment source) {
            requireOpen();
            file().write(offset, source);
        }
    }
}
