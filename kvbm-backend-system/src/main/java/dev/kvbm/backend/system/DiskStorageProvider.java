package dev.kvbm.backend.system;

import dev.kvbm.api.KvbmException;
import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.Storage;
import dev.kvbm.api.spi.StorageProvider;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The disk tier: each allocation is a new file in one directory, preallocated to its full size with
 * {@code posix_fallocate} and deleted when the storage is closed.
 *
 * <p>The directory is the system property {@value #DIRECTORY_PROPERTY}, else {@code java.io.tmpdir}. Needs
 * Linux and native access for this module ({@code --enable-native-access=dev.kvbm.backend.system}); without
 * them the provider is unavailable and says which is missing.
 */
public final class DiskStorageProvider implements StorageProvider {

    /** System property naming the directory for disk-tier files. */
    public static final String DIRECTORY_PROPERTY = "kvbm.disk.dir";

    private static final AtomicLong SEQUENCE = new AtomicLong();

    private final Path directory;
    private final StorageAccounting accounting = new StorageAccounting();

    /** A provider writing to {@value #DIRECTORY_PROPERTY}, or {@code java.io.tmpdir} when unset. */
    public DiskStorageProvider() {
        this(Path.of(System.getProperty(DIRECTORY_PROPERTY, System.getProperty("java.io.tmpdir"))));
    }

    /** A provider writing to {@code directory}. */
    public DiskStorageProvider(Path directory) {
        this.directory = Objects.requireNonNull(directory, "directory").toAbsolutePath();
    }

    /** Where this provider creates its files. */
    public Path directory() {
        return directory;
    }

    @Override
    public String name() {
        return "system-disk";
    }

    @Override
    public String backend() {
        return "system";
    }

    @Override
    public Optional<Throwable> unavailabilityCause() {
        return PosixFiles.unavailabilityCause();
    }

    @Override
    public boolean supports(StorageKind kind) {
        return kind.type() == StorageKind.Type.DISK;
    }

    @Override
    public long defaultAlignment() {
        return SystemStorageProvider.PAGE_SIZE;
    }

    /** Creates and preallocates a new file of {@code size} bytes; the requested fd is ignored. */
    @Override
    public Storage allocate(StorageKind kind, long size, long alignment) {
        Allocations.check(name(), kind, supports(kind), size, alignment);
        ensureAvailable();
        if (!Files.isDirectory(directory) || !Files.isWritable(directory)) {
            throw new KvbmException(String.format(Locale.ROOT,
                    "disk tier directory %s does not exist or is not writable; create it or set -D%s to one that is",
                    directory, DIRECTORY_PROPERTY));
        }
        Path path = directory.resolve(String.format(Locale.ROOT, "kvbm-disk-%d-%d.bin",
                ProcessHandle.current().pid(), SEQUENCE.incrementAndGet()));
        int fd = PosixFiles.createExclusive(path);
        try {
            PosixFiles.preallocate(fd, path, size);
        } catch (RuntimeException e) {
            try {
                PosixFiles.close(fd, path);
                Files.deleteIfExists(path);
            } catch (Exception suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
        accounting.allocated(size);
        return new DiskStorage(fd, path, size, accounting);
    }

    @Override
    public long bytesOutstanding() {
        return accounting.bytes();
    }

    @Override
    public long allocationsOutstanding() {
        return accounting.allocations();
    }
}
