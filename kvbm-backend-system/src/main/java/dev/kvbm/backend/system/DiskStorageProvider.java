package dev.kvbm.backend.system;

import dev.kvbm.api.KvbmException;
import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.Storage;
import dev.kvbm.api.spi.StorageAccounting;
import dev.kvbm.api.spi.StorageCapabilities;
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
 * {@code posix_fallocate}. The file never has a name ({@code O_TMPFILE}; on a file system without it, it is
 * unlinked right after it is created) and lives on through its descriptor, so closing the storage — or the process
 * ending in any way, crash and OOM kill included — returns the space; files of a dead process found in the
 * directory (left by an earlier version) are deleted by the first allocation.
 *
 * <p>Files are opened with {@code O_DIRECT} so that offloaded blocks do not also fill the page cache (see
 * {@link DiskStorage} for the alignment this asks and how unaligned transfers are staged). A file system that
 * refuses it (ramfs; tmpfs before Linux 6.6) gets buffered files and one logged warning per provider;
 * {@value #DIRECT_PROPERTY}{@code =false} chooses buffered I/O deliberately.
 *
 * <p>Capacity: the provider hands out at most its budget ({@value #BUDGET_PROPERTY}, bytes with an optional
 * k/m/g/t suffix; unlimited by default), and an allocation larger than the file system's free space fails before
 * anything is written, naming {@code ENOSPC}, the free space and the size asked.
 *
 * <p>The directory is the system property {@value #DIRECTORY_PROPERTY}, else {@code java.io.tmpdir}. Needs
 * Linux and native access for this module ({@code --enable-native-access=dev.kvbm.backend.system}); without
 * them the provider is unavailable and says which is missing.
 */
public final class DiskStorageProvider implements StorageProvider {

    /** System property naming the directory for disk-tier files. */
    public static final String DIRECTORY_PROPERTY = "kvbm.disk.dir";
    /** System property: {@code false} opens disk-tier files without {@code O_DIRECT}. */
    public static final String DIRECT_PROPERTY = "kvbm.disk.direct";
    /** System property: the most bytes one provider hands out, e.g. {@code 200g}. */
    public static final String BUDGET_PROPERTY = "kvbm.disk.budget";
    /** The direct-I/O alignment assumed when the kernel does not report one (statx before Linux 6.1). */
    static final long DEFAULT_IO_ALIGNMENT = 4096;

    private static final System.Logger LOG = System.getLogger(DiskStorageProvider.class.getName());
    private static final AtomicLong SEQUENCE = new AtomicLong();
    private static final Pattern FILE_NAME = Pattern.compile("kvbm-disk-(\\d{1,18})-\\d+\\.bin");

    private final Path directory;
    private final long budget;
    private final boolean direct;
    private final StorageAccounting accounting = new StorageAccounting();
    private final AtomicBoolean reclaimed = new AtomicBoolean();
    private final AtomicBoolean warnedBuffered = new AtomicBoolean();

    /**
     * A provider writing to {@value #DIRECTORY_PROPERTY} (or {@code java.io.tmpdir} when unset), with the budget
     * of {@value #BUDGET_PROPERTY} and direct I/O unless {@value #DIRECT_PROPERTY} is {@code false}.
     */
    public DiskStorageProvider() {
        this(Path.of(System.getProperty(DIRECTORY_PROPERTY, System.getProperty("java.io.tmpdir"))));
    }

    /** A provider writing to {@code directory}, budget and direct I/O from the system properties. */
    public DiskStorageProvider(Path directory) {
        this(directory, parseBytes(BUDGET_PROPERTY, System.getProperty(BUDGET_PROPERTY)),
                !"false".equalsIgnoreCase(System.getProperty(DIRECT_PROPERTY, "true").strip()));
    }

    /**
     * A provider writing to {@code directory}.
     *
     * @param budget the most bytes it hands out at once ({@link Long#MAX_VALUE}: no limit but the file system's)
     * @param direct whether files are opened with {@code O_DIRECT} (where the file system allows it)
     */
    public DiskStorageProvider(Path directory, long budget, boolean direct) {
        this.directory = Objects.requireNonNull(directory, "directory").toAbsolutePath();
        if (budget < 1) {
            throw new IllegalArgumentException("disk tier budget must be at least 1 byte, got " + budget);
        }
        this.budget = budget;
        this.direct = direct;
    }

    /**
     * Parses a byte count such as {@code 1073741824}, {@code 64m} or {@code 2T} (powers of 1024); {@code null} or
     * blank is no limit.
     */
    static long parseBytes(String what, String value) {
        if (value == null || value.isBlank()) {
            return Long.MAX_VALUE;
        }
        String v = value.strip().toLowerCase(Locale.ROOT);
        int shift = switch (v.charAt(v.length() - 1)) {
            case 'k' -> 10;
            case 'm' -> 20;
            case 'g' -> 30;
            case 't' -> 40;
            default -> 0;
        };
        try {
            long n = Long.parseLong(shift == 0 ? v : v.substring(0, v.length() - 1).strip());
            if (n < 1 || n > (Long.MAX_VALUE >> shift)) {
                throw new NumberFormatException("out of range");
            }
            return n << shift;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "%s is '%s'; expected a positive byte count, optionally with k, m, g or t (e.g. 200g)",
                    what, value), e);
        }
    }

    /** The most bytes this provider hands out at once. */
    public long budget() {
        return budget;
    }

    /** Whether this provider asks for {@code O_DIRECT} (a file system may still refuse it; see the warning). */
    public boolean direct() {
        return direct;
    }

    /** Where this provider creates its files. */
    public Path directory() {
        return directory;
    }

    /** {@return a provider creating its files in {@code directory}, with this one's settings and its own accounting} */
    @Override
    public StorageProvider inDirectory(Path directory) {
        return new DiskStorageProvider(directory, budget, direct);
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

    /**
     * Files of up to 256 MiB are promised (the budget and free space bound them further); a new file reads as zeros.
     * A file's region starts at offset 0, so every alignment holds; 2 MiB is declared.
     */
    @Override
    public StorageCapabilities capabilities(StorageKind kind) {
        return new StorageCapabilities(1L << 21, 256L << 20, true);
    }

    @Override
    public boolean supports(StorageKind kind) {
        return kind.type() == StorageKind.Type.DISK && !kind.isVendor();
    }

    @Override
    public long defaultAlignment() {
        return SystemStorageProvider.PAGE_SIZE;
    }

    /**
     * Creates and preallocates a new file of {@code size} bytes (rounded up to the direct-I/O alignment on disk);
     * the requested fd is ignored.
     */
    @Override
    public Storage allocate(StorageKind kind, long size, long alignment) {
        StorageProvider.checkAllocation(name(), kind, supports(kind), size, alignment);
        ensureAvailable();
        if (!Files.isDirectory(directory) || !Files.isWritable(directory)) {
            throw new KvbmException(String.format(Locale.ROOT,
                    "disk tier directory %s does not exist or is not writable; create it or set -D%s to one that is",
                    directory, DIRECTORY_PROPERTY));
        }
        reserve(size);
        try {
            reclaimOnce();
            return create(size);
        } catch (RuntimeException | Error e) {
            accounting.released(size);
            throw e;
        }
    }

    /** Counts {@code size} against the budget, or fails naming the budget, what is out and what was asked. */
    private synchronized void reserve(long size) {
        long out = accounting.bytes();
        if (size > budget - out) {
            throw new KvbmException(String.format(Locale.ROOT,
                    "disk tier budget exceeded in %s: %d bytes asked, %d of the budget of %d bytes already allocated;"
                            + " close storage first or raise the budget (-D%s)",
                    directory, size, out, budget, BUDGET_PROPERTY));
        }
        accounting.allocated(size);
    }

    private Storage create(long size) {
        Path path = directory.resolve(String.format(Locale.ROOT, "kvbm-disk-%d-%d.bin",
                ProcessHandle.current().pid(), SEQUENCE.incrementAndGet()));
        int fd = PosixFiles.createUnnamed(directory);
        if (fd < 0) {
            fd = createThenUnlink(path);
        }
        try {
            long[] dio = direct ? PosixFiles.directIoAlignment(fd, path) : new long[] {1, 1};
            long offsetAlignment = dio[1] > 0 ? dio[1] : DEFAULT_IO_ALIGNMENT;
            long memoryAlignment = dio[0] > 0 ? dio[0] : offsetAlignment;
            if (size > Long.MAX_VALUE - (offsetAlignment - 1)) {
                throw new KvbmException(String.format(Locale.ROOT, "cannot allocate %d bytes of Disk storage in %s:"
                        + " rounded up to the file system's I/O unit of %d bytes, the file would exceed the largest"
                        + " file size", size, directory, offsetAlignment));
            }
            long fileSize = (size + offsetAlignment - 1) & -offsetAlignment;
            long free = PosixFiles.freeBytes(directory);
            if (fileSize > free) {
                throw new KvbmException(String.format(Locale.ROOT,
                        "ENOSPC: the file system of disk tier directory %s has %d bytes free, %d asked; free space"
                                + " there, give the disk tier fewer blocks, or set -D%s to a larger one",
                        directory, free, fileSize, DIRECTORY_PROPERTY));
            }
            PosixFiles.preallocate(fd, path, fileSize);
            boolean isDirect = direct && PosixFiles.enableDirect(fd, path);
            if (direct && !isDirect && !warnedBuffered.getAndSet(true)) {
                LOG.log(System.Logger.Level.WARNING, "the file system of disk tier directory {0} refuses O_DIRECT"
                        + " (ramfs does, and tmpfs before Linux 6.6): its files go through the page cache, so"
                        + " offloaded blocks also take host memory as cached pages. Use a directory on a disk file"
                        + " system, or set -D{1}=false to choose buffered I/O and silence this warning.",
                        directory, DIRECT_PROPERTY);
            }
            return new DiskStorage(fd, path, size, isDirect, memoryAlignment, offsetAlignment, accounting);
        } catch (RuntimeException | Error e) {
            try {
                PosixFiles.close(fd, path);
            } catch (RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    /** Where {@code O_TMPFILE} is missing: a named file, unlinked at once, so its fd alone keeps it. */
    private static int createThenUnlink(Path path) {
        int fd = PosixFiles.createExclusive(path);
        try {
            Files.delete(path);
            return fd;
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
