package dev.kvbm.api.spi;

import dev.kvbm.api.StorageKind;

/**
 * Allocates {@link Storage} of the kinds it supports. Found through {@link java.util.ServiceLoader}.
 *
 * <p>A provider counts what it has handed out and not yet seen closed, so a test can prove nothing leaked:
 * {@link #bytesOutstanding()} and {@link #allocationsOutstanding()} return to their earlier values once every
 * storage is closed. Implementations are thread-safe.
 */
public interface StorageProvider extends BackendProvider {

    /**
     * Tests whether this provider allocates a kind.
     *
     * @param kind the kind asked for; for disk, any fd (a new file is opened)
     * @return true when this provider can allocate storage of {@code kind}
     */
    boolean supports(StorageKind kind);

    /**
     * The kinds this provider allocates, for discovery, choice and the kit: by default the built-in kinds it
     * {@linkplain #supports supports} ({@code System}, {@code Pinned}, {@code Device(0)}, {@code Disk}); a provider of
     * a {@linkplain StorageKind#vendor vendor kind} lists it here, since nothing else can guess its name.
     *
     * @return the kinds, one per kind (for devices and files, one with id 0 stands for all)
     */
    default java.util.List<StorageKind> kinds() {
        return java.util.stream.Stream.of(StorageKind.SYSTEM, StorageKind.PINNED, StorageKind.device(0),
                StorageKind.disk(0)).filter(this::supports).toList();
    }

    /**
     * What this provider promises for {@code kind} beyond the SPI's minimum: the largest alignment it honours, the
     * largest allocation it delivers, whether new memory reads as zeros. The compatibility kit holds the provider to
     * exactly these, on every path.
     *
     * @param kind a kind this provider supports
     * @return the promises; {@link StorageCapabilities#MINIMUM} by default
     */
    default StorageCapabilities capabilities(StorageKind kind) {
        return StorageCapabilities.MINIMUM;
    }

    /** {@return the alignment used by {@link #allocate(StorageKind, long)}, e.g. the page size} */
    long defaultAlignment();

    /**
     * Allocates {@code size} bytes whose start is a multiple of {@code alignment}.
     *
     * @param kind      where the storage lives
     * @param size      bytes, at least 1
     * @param alignment a power of two
     * @return the new storage; the caller closes it
     * @throws IllegalArgumentException      when {@code size <= 0}, the alignment is not a power of two, or the
     *                                       kind is not supported; the message says what would be right
     * @throws UnsupportedOperationException when the provider is unavailable on this machine
     * @throws dev.kvbm.api.KvbmException     when the memory or file cannot be had
     */
    Storage allocate(StorageKind kind, long size, long alignment);

    /**
     * Allocates {@code size} bytes at {@link #defaultAlignment()}.
     *
     * @param kind where the storage lives
     * @param size bytes, at least 1
     * @return the new storage; the caller closes it
     */
    default Storage allocate(StorageKind kind, long size) {
        return allocate(kind, size, defaultAlignment());
    }

    /**
     * A provider of the same kind that places its storage in {@code directory}: for file-backed storage (the disk
     * tier), whose files need a chosen file system.
     *
     * @param directory an existing, writable directory
     * @return a new provider with its own accounting
     * @throws UnsupportedOperationException when this provider's storage does not live in files (the default)
     */
    default StorageProvider inDirectory(java.nio.file.Path directory) {
        throw new UnsupportedOperationException("storage provider " + name() + " does not keep its storage in"
                + " files, so it takes no directory; give a directory to a disk provider only");
    }

    /**
     * The checks every provider makes before it allocates, with the messages the kit expects: the kind is one it
     * supports, the size is positive, the alignment a power of two.
     *
     * @param provider  the provider's name, for the message
     * @param kind      the kind asked for
     * @param supported whether the provider {@linkplain #supports supports} {@code kind}
     * @param size      bytes asked for
     * @param alignment alignment asked for
     * @throws IllegalArgumentException naming what was wrong and what would be right
     */
    static void checkAllocation(String provider, StorageKind kind, boolean supported, long size, long alignment) {
        if (!supported) {
            if (kind.isVendor()) {
                throw new IllegalArgumentException(String.format(java.util.Locale.ROOT,
                        "%s cannot allocate %s storage: that is a vendor kind, allocated only by the provider that"
                                + " declares it in kinds(); ask Backends.storageProvider(kind) for it", provider, kind));
            }
            throw new IllegalArgumentException(String.format(java.util.Locale.ROOT,
                    "%s cannot allocate %s storage; ask Backends.storageProvider(kind) for a provider that can",
                    provider, kind));
        }
        if (size <= 0) {
            throw new IllegalArgumentException(String.format(java.util.Locale.ROOT,
                    "cannot allocate %d bytes of %s storage: size must be > 0", size, kind));
        }
        if (alignment <= 0 || Long.bitCount(alignment) != 1) {
            throw new IllegalArgumentException(String.format(java.util.Locale.ROOT,
                    "alignment %d for %s storage is not a power of two", alignment, kind));
        }
    }

    /** {@return bytes allocated by this provider and not yet closed} */
    long bytesOutstanding();

    /** {@return allocations made by this provider and not yet closed} */
    long allocationsOutstanding();
}
