package dev.kvbm.backend.system;

import dev.kvbm.api.KvbmException;
import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.Storage;
import dev.kvbm.api.spi.StorageAccounting;
import dev.kvbm.api.spi.StorageProvider;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The disk tier: each allocation is a new file in one directory, preallocated to its full size with
 * {@code posix_fallocate}. The file is unlinked right after it is created and lives on through its descriptor, so
 * closing the storage — or the process ending in any way, crash and OOM kill included — returns the space; files
 * of a dead process found in the directory (left by an earlier version) are deleted by the first allocation.
 *
 * <p>The directory is the system property {@value #DIRECTORY_PROPERTY}, else {@code java.io.tmpdir}. Needs
 * Linux and native access for this module ({@code --enable-native-access=dev.kvbm.backend.system}); without
 * them the provider is unavailable and says which is missing.
 */
public final class DiskStorageProvider implements StorageProvider {

    /** System property naming the directory for disk-tier files. */
    public static final String DIRECTORY_PROPERTY = "kvbm.disk.dir";

    private static final System.Logger LOG = System.getLogger(DiskStorageProvider.class.getName());
    private static final AtomicLong SEQUENCE = new AtomicLong();
    private static final Pattern FILE_NAME = Pattern.compile("kvbm-disk-(\\d{1,18})-\\d+\\.bin");

    private final Path directory;
    private final StorageAccounting accounting = new StorageAccounting();
    private final AtomicBoolean reclaimed = new AtomicBoolean();

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

    /** {@return a provider creating its files in {@code directory}, with its own accounting} */
    @Override
    public StorageProvider inDirectory(Path directory) {
        return new DiskStorageProvider(directory);
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
        StorageProvider.checkAllocation(name(), kind, supports(kind), size, alignment);
        ensureAvailable();
        if (!Files.isDirectory(directory) || !Files.isWritable(directory)) {
            throw new KvbmException(String.format(Locale.ROOT,
                    "disk tier directory %s does not exist or is not writable; create it or set -D%s to one that is",
                    directory, DIRECTORY_PROPERTY));
        }
        Path path = directory.resolve(String.format(Locale.ROOT, "kvbm-disk-%d-%d.bin",
                ProcessHandle.current().pid(), SEQUENCE.incrementAndGet()));
        reclaimOnce();
        int fd = PosixFiles.createExclusive(path);
        try {
            // Unlinked at once: the descriptor keeps the file, and nothing is left behind however the JVM ends.
            Files.delete(path);
            PosixFiles.preallocate(fd, path, size);
        } catch (IOException | RuntimeException e) {
            try {
                PosixFiles.close(fd, path);
                Files.deleteIfExists(path);
            } catch (Exception suppressed) {
                e.addSuppressed(suppressed);
            }
            if (e instanceof IOException io) {
                throw new KvbmException("could not unlink new disk tier file " + path + ": " + io.getMessage(), io);
            }
            throw (RuntimeException) e;
        }
        accounting.allocated(size);
        return new DiskStorage(fd, path, size, accounting);
    }

    /**
     * Deletes files that a process of an earlier version left in the directory when it died between creating and
     * unlinking them: {@code kvbm-disk-<pid>-<n>.bin} whose pid is no live process. Runs once per provider.
     */
    private void reclaimOnce() {
        if (reclaimed.getAndSet(true)) {
            return;
        }
        try (DirectoryStream<Path> files = Files.newDirectoryStream(directory, "kvbm-disk-*-*.bin")) {
            for (Path file : files) {
                Matcher m = FILE_NAME.matcher(file.getFileName().toString());
                if (m.matches() && ProcessHandle.of(Long.parseLong(m.group(1))).isEmpty()) {
                    Files.deleteIfExists(file);
                    LOG.log(System.Logger.Level.INFO, "reclaimed disk tier file {0} of a process that is gone", file);
                }
            }
        } catch (IOException | NumberFormatException | UncheckedIOException e) {
            LOG.log(System.Logger.Level.WARNING, "could not reclaim stale disk tier files in " + directory, e);
        }
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
