package dev.kvbm.tck;

import dev.kvbm.api.spi.FileStorage;
import dev.kvbm.api.spi.HostStorage;
import dev.kvbm.api.spi.Storage;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * How the kit puts bytes into a storage and reads them back, for storage the CPU can reach: host memory through
 * its segment, files through positional I/O. A verification of other storage (GPU memory) overrides its own
 * {@code write}/{@code read} hooks instead.
 */
public final class Bytes {
    private Bytes() {
    }

    /** Writes {@code bytes} at {@code offset} of a host or file storage. */
    public static void write(Storage storage, long offset, byte[] bytes) {
        MemorySegment source = MemorySegment.ofArray(bytes);
        switch (storage) {
            case HostStorage host -> MemorySegment.copy(source, 0, host.segment(), offset, bytes.length);
            case FileStorage file -> {
                // Positional I/O needs a native buffer on some backends; stage through a confined arena.
                try (var arena = java.lang.foreign.Arena.ofConfined()) {
                    MemorySegment staged = arena.allocate(Math.max(1, bytes.length));
                    MemorySegment.copy(source, 0, staged, 0, bytes.length);
                    file.write(offset, staged.asSlice(0, bytes.length));
                }
            }
            default -> throw unreachable(storage);
        }
    }

    /** Reads {@code length} bytes at {@code offset} of a host or file storage. */
    public static byte[] read(Storage storage, long offset, int length) {
        return switch (storage) {
            case HostStorage host -> host.segment().asSlice(offset, length).toArray(ValueLayout.JAVA_BYTE);
            case FileStorage file -> {
                try (var arena = java.lang.foreign.Arena.ofConfined()) {
                    MemorySegment staged = arena.allocate(Math.max(1, length));
                    file.read(offset, staged.asSlice(0, length));
                    yield staged.asSlice(0, length).toArray(ValueLayout.JAVA_BYTE);
                }
            }
            default -> throw unreachable(storage);
        };
    }

    /** {@code length} seeded random bytes. */
    public static byte[] random(SplittableRandom random, int length) {
        byte[] bytes = new byte[length];
        random.nextBytes(bytes);
        return bytes;
    }

    private static UnsupportedOperationException unreachable(Storage storage) {
        return new UnsupportedOperationException(String.format(Locale.ROOT,
                "the kit cannot reach the bytes of %s storage (%s); override the verification's write/read hooks",
                storage.kind(), storage.getClass().getName()));
    }
}
