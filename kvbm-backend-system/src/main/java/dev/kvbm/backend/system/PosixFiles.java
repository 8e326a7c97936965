package dev.kvbm.backend.system;

import dev.kvbm.api.KvbmException;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * The foreign calls of the disk tier, to libc: {@code open}, {@code close}, {@code fcntl}, {@code statx},
 * {@code statvfs}, {@code posix_fallocate}, {@code pread}, {@code pwrite} ({@link IoUring} has the io_uring ones). Probed once; when the probe fails (not Linux, or native access not enabled for
 * this module) the cause is kept and {@link #unavailabilityCause()} reports it with the flag that fixes it.
 * Return codes become {@link KvbmException}s naming the call, the file, the range and the errno.
 */
final class PosixFiles {

    private static final String MODULE_FLAG = "--enable-native-access=" + moduleName();

    // Linux open(2) flags common to x86_64 and aarch64.
    private static final int O_RDWR = 0x2;
    private static final int O_CREAT = 0x40;
    private static final int O_EXCL = 0x80;
    private static final int O_CLOEXEC = 0x80000;
    private static final int O_TMPFILE_BASE = 0x400000;
    // These two differ: x86_64 (and riscv64) vs aarch64 (and arm).
    private static final boolean ARM = System.getProperty("os.arch", "").startsWith("aarch64")
            || System.getProperty("os.arch", "").startsWith("arm");
    private static final int O_DIRECT = ARM ? 0x10000 : 0x4000;
    private static final int O_RDONLY = 0;
    private static final int O_NONBLOCK = 0x800;
    private static final int O_NOFOLLOW = ARM ? 0x8000 : 0x20000;
    private static final int O_DIRECTORY = ARM ? 0x4000 : 0x10000;
    private static final int O_TMPFILE = O_TMPFILE_BASE | O_DIRECTORY;
    private static final int F_GETFL = 3;
    private static final int F_SETFL = 4;
    private static final int AT_EMPTY_PATH = 0x1000;
    private static final int STATX_DIOALIGN = 0x2000;
    private static final int STATX_TYPE = 0x1;
    private static final int STATX_MTIME = 0x40;
    private static final int STATX_SIZE_FIELD = 0x200;
    private static final long STATX_MODE = 28;
    private static final long STATX_SIZE_AT = 40;
    private static final long STATX_MTIME_AT = 112;
    private static final int S_IFMT = 0xF000;
    private static final int S_IFREG = 0x8000;
    private static final int ENOENT = 2;
    private static final int ELOOP = 40;
    private static final int ENXIO = 6;
    private static final long STATX_SIZE = 256;
    private static final long STATX_DIO_MEM_ALIGN = 152;
    private static final long STATX_DIO_OFFSET_ALIGN = 156;
    private static final long STATVFS_SIZE = 112;
    static final int EINTR = 4;
    static final int EAGAIN = 11;
    static final int EINVAL = 22;
    static final int ENOSPC = 28;
    private static final int EISDIR = 21;
    private static final int EOPNOTSUPP = 95;

    /** errno names for messages (Linux, x86_64 and aarch64 agree on these). */
    private static final Map<Integer, String> ERRNO_NAMES = Map.ofEntries(
            Map.entry(1, "EPERM"), Map.entry(2, "ENOENT"), Map.entry(4, "EINTR"),
            Map.entry(5, "EIO"), Map.entry(9, "EBADF"), Map.entry(11, "EAGAIN"),
            Map.entry(12, "ENOMEM"), Map.entry(13, "EACCES"), Map.entry(14, "EFAULT"),
            Map.entry(17, "EEXIST"), Map.entry(20, "ENOTDIR"), Map.entry(21, "EISDIR"),
            Map.entry(22, "EINVAL"), Map.entry(24, "EMFILE"), Map.entry(27, "EFBIG"),
            Map.entry(28, "ENOSPC"), Map.entry(30, "EROFS"), Map.entry(38, "ENOSYS"),
            Map.entry(95, "EOPNOTSUPP"), Map.entry(122, "EDQUOT"));

    private static final Throwable UNAVAILABILITY;
    private static final StructLayout CAPTURE_LAYOUT;
    private static final VarHandle ERRNO;
    private static final MethodHandle OPEN;
    private static final MethodHandle CLOSE;
    private static final MethodHandle FALLOCATE;
    private static final MethodHandle PREAD;
    private static final MethodHandle PWRITE;
    private static final MethodHandle STRERROR;
    private static final MethodHandle FCNTL;
    private static final MethodHandle STATX;
    private static final MethodHandle STATVFS;

    static {
        Throwable cause = null;
        StructLayout capture = null;
        VarHandle errno = null;
        MethodHandle open = null;
        MethodHandle close = null;
        MethodHandle fallocate = null;
        MethodHandle pread = null;
        MethodHandle pwrite = null;
        MethodHandle strerror = null;
        MethodHandle fcntl = null;
        MethodHandle statx = null;
        MethodHandle statvfs = null;
        try {
            String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
            if (!os.contains("linux")) {
                throw new UnsupportedOperationException("the disk tier supports Linux only, this is " + os);
            }
            if (!PosixFiles.class.getModule().isNativeAccessEnabled()) {
                // Checked first: without the flag the JDK would only warn (unless --illegal-native-access=deny),
                // and a user should learn the flag from the provider, not from a warning or a later failure.
                throw new IllegalCallerException("native access not granted");
            }
            Linker linker = Linker.nativeLinker();
            SymbolLookup libc = linker.defaultLookup();
            capture = Linker.Option.captureStateLayout();
            errno = capture.varHandle(MemoryLayout.PathElement.groupElement("errno"));
            Linker.Option errnoOption = Linker.Option.captureCallState("errno");
            ValueLayout sizeT = ValueLayout.JAVA_LONG;
            open = linker.downcallHandle(find(libc, "open"),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT),
                    errnoOption, Linker.Option.firstVariadicArg(2));
            close = linker.downcallHandle(find(libc, "close"),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT), errnoOption);
            fallocate = linker.downcallHandle(find(libc, "posix_fallocate"),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG));
            pread = linker.downcallHandle(find(libc, "pread"),
                    FunctionDescriptor.of(sizeT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, sizeT, ValueLayout.JAVA_LONG),
                    errnoOption);
            pwrite = linker.downcallHandle(find(libc, "pwrite"),
                    FunctionDescriptor.of(sizeT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, sizeT, ValueLayout.JAVA_LONG),
                    errnoOption);
            strerror = linker.downcallHandle(find(libc, "strerror"),
                    FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
            fcntl = linker.downcallHandle(find(libc, "fcntl"),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT),
                    errnoOption, Linker.Option.firstVariadicArg(2));
            statvfs = linker.downcallHandle(find(libc, "statvfs"),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS), errnoOption);
            // statx is in glibc since 2.28; without it the alignment falls back to 4096.
            statx = libc.find("statx").map(a -> linker.downcallHandle(a, FunctionDescriptor.of(ValueLayout.JAVA_INT,
                    ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                    ValueLayout.ADDRESS))).orElse(null);
        } catch (IllegalCallerException e) {
            cause = new UnsupportedOperationException("native access is not enabled for " + moduleName()
                    + "; start the JVM with " + MODULE_FLAG
                    + " (or --enable-native-access=ALL-UNNAMED when it is on the class path)", e);
        } catch (RuntimeException | LinkageError e) {
            cause = e;
        }
        UNAVAILABILITY = cause;
        CAPTURE_LAYOUT = capture;
        ERRNO = errno;
        OPEN = open;
        CLOSE = close;
        FALLOCATE = fallocate;
        PREAD = pread;
        PWRITE = pwrite;
        STRERROR = strerror;
        FCNTL = fcntl;
        STATX = statx;
        STATVFS = statvfs;
    }

    private PosixFiles() {
    }

    static Optional<Throwable> unavailabilityCause() {
        return Optional.ofNullable(UNAVAILABILITY);
    }

    private static void ensureAvailable() {
        if (UNAVAILABILITY != null) {
            throw new UnsupportedOperationException("POSIX file access unavailable: " + UNAVAILABILITY.getMessage(),
                    UNAVAILABILITY);
        }
    }

    private static String moduleName() {
        Module module = PosixFiles.class.getModule();
        return module.isNamed() ? module.getName() : "ALL-UNNAMED";
    }

    private static MemorySegment find(SymbolLookup lookup, String name) {
        return lookup.find(name).orElseThrow(() -> new UnsupportedOperationException("libc has no symbol " + name));
    }

    /** Creates {@code path} exclusively (it must not exist), read-write, mode 0600; returns the fd. */
    static int createExclusive(Path path) {
        ensureAvailable();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE_LAYOUT);
            MemorySegment cPath = arena.allocateFrom(path.toString());
            int fd = (int) OPEN.invokeExact(state, cPath, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
            if (fd < 0) {
                throw failure("open", path, 0, 0, errno(state));
            }
            return fd;
        } catch (KvbmException e) {
            throw e;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * Creates a file in {@code directory} that has no name from the start ({@code O_TMPFILE}): only the returned
     * descriptor keeps it, so there is no moment at which a crash could leave it behind. Returns -1 when the file
     * system does not support {@code O_TMPFILE}; the caller then creates a named file and unlinks it.
     */
    static int createUnnamed(Path directory) {
        ensureAvailable();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE_LAYOUT);
            MemorySegment cPath = arena.allocateFrom(directory.toString());
            int fd = (int) OPEN.invokeExact(state, cPath, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
            if (fd >= 0) {
                return fd;
            }
            int err = errno(state);
            if (err == EOPNOTSUPP || err == EISDIR || err == EINVAL) {
                return -1;
            }
            throw failure("open(O_TMPFILE)", directory, 0, 0, err);
        } catch (KvbmException e) {
            throw e;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * Turns on {@code O_DIRECT} for {@code fd}. Returns {@code false} when the file system refuses it
     * ({@code EINVAL}: tmpfs before Linux 6.6, ramfs, some FUSE and network file systems); other errors throw.
     */
    static boolean enableDirect(int fd, Path path) {
        ensureAvailable();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE_LAYOUT);
            int flags = (int) FCNTL.invokeExact(state, fd, F_GETFL, 0);
            if (flags < 0) {
                throw failure("fcntl(F_GETFL)", path, 0, 0, errno(state));
            }
            int rc = (int) FCNTL.invokeExact(state, fd, F_SETFL, flags | O_DIRECT);
            if (rc == 0) {
                return true;
            }
            if (errno(state) == EINVAL) {
                return false;
            }
            throw failure("fcntl(F_SETFL, O_DIRECT)", path, 0, 0, errno(state));
        } catch (KvbmException e) {
            throw e;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * The direct-I/O alignment of {@code fd} from {@code statx(STATX_DIOALIGN)} (Linux 6.1+):
     * {@code {memory alignment, offset alignment}}, or {@code {0, 0}} when the kernel or the file system does not
     * report it.
     */
    static long[] directIoAlignment(int fd, Path path) {
        ensureAvailable();
        if (STATX == null) {
            return new long[] {0, 0};
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(STATX_SIZE, 8);
            int rc = (int) STATX.invokeExact(fd, arena.allocateFrom(""), AT_EMPTY_PATH, STATX_DIOALIGN, buf);
            if (rc != 0 || (buf.get(ValueLayout.JAVA_INT, 0) & STATX_DIOALIGN) == 0) {
                return new long[] {0, 0};
            }
            return new long[] {Integer.toUnsignedLong(buf.get(ValueLayout.JAVA_INT, STATX_DIO_MEM_ALIGN)),
                    Integer.toUnsignedLong(buf.get(ValueLayout.JAVA_INT, STATX_DIO_OFFSET_ALIGN))};
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * Bytes an unprivileged writer may still allocate on the file system of {@code path} ({@code statvfs}), or
     * {@link Long#MAX_VALUE} when the file system reports no size.
     */
    static long freeBytes(Path path) {
        ensureAvailable();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE_LAYOUT);
            MemorySegment buf = arena.allocate(STATVFS_SIZE, 8);
            int rc = (int) STATVFS.invokeExact(state, arena.allocateFrom(path.toString()), buf);
            if (rc != 0) {
                throw failure("statvfs", path, 0, 0, errno(state));
            }
            long fragment = buf.get(ValueLayout.JAVA_LONG, 8);
            long blocks = buf.get(ValueLayout.JAVA_LONG, 16);
            long available = buf.get(ValueLayout.JAVA_LONG, 32);
            if (blocks == 0) {
                return Long.MAX_VALUE; // no size reported (ramfs, some FUSE file systems): posix_fallocate decides
            }
            return Math.multiplyHigh(fragment, available) != 0 ? Long.MAX_VALUE : fragment * available;
        } catch (KvbmException e) {
            throw e;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Reserves {@code [0, length)} on disk so later writes cannot fail for lack of space. */
    static void preallocate(int fd, Path path, long length) {
        ensureAvailable();
        try {
            int rc;
            do {
                rc = (int) FALLOCATE.invokeExact(fd, 0L, length);
            } while (rc == EINTR);
            if (rc != 0) {
                throw failure("posix_fallocate", path, 0, length, rc);
            }
        } catch (KvbmException e) {
            throw e;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static void close(int fd, Path path) {
        ensureAvailable();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE_LAYOUT);
            int rc = (int) CLOSE.invokeExact(state, fd);
            // After close(2) fails the fd is released anyway on Linux; report, never retry.
            if (rc != 0 && errno(state) != EINTR) {
                throw failure("close", path, 0, 0, errno(state));
            }
        } catch (KvbmException e) {
            throw e;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * What {@link #readRegularFile} found: the file's first bytes (at most the limit), its size and its modification
     * time, all of the one file opened; or why it is not a file to read ({@code notRegular}).
     */
    record RegularFile(byte[] bytes, long size, long modifiedMillis, String notRegular) {
    }

    /**
     * Reads at most {@code limit} bytes of a regular file another process may replace at any moment, without a
     * window between checking and opening: the name is opened once ({@code O_NONBLOCK}, so that a FIFO or a device
     * put in its place cannot block; {@code O_NOFOLLOW}, so that a link is refused), and the type, size and time
     * are those of the descriptor ({@code statx} on it).
     *
     * @return the contents, or a {@code RegularFile} whose {@code notRegular} says why it was not read; null when
     *         the file does not exist (any more)
     */
    static RegularFile readRegularFile(Path path, int limit) {
        ensureAvailable();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE_LAYOUT);
            int fd = (int) OPEN.invokeExact(state, arena.allocateFrom(path.toString()),
                    O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC, 0);
            if (fd < 0) {
                int err = errno(state);
                if (err == ENOENT) {
                    return null;
                }
                if (err == ELOOP || err == ENXIO) {
                    return new RegularFile(null, -1, 0, "is a symbolic link or a device, not a regular file");
                }
                throw failure("open", path, 0, 0, err);
            }
            try {
                long size;
                long modified;
                if (STATX != null) {
                    MemorySegment buf = arena.allocate(STATX_SIZE, 8);
                    int rc = (int) STATX.invokeExact(fd, arena.allocateFrom(""), AT_EMPTY_PATH,
                            STATX_TYPE | STATX_MTIME | STATX_SIZE_FIELD, buf);
                    if (rc != 0) {
                        throw new KvbmException("statx of " + path + " failed");
                    }
                    int mode = Short.toUnsignedInt(buf.get(ValueLayout.JAVA_SHORT, STATX_MODE));
                    if ((mode & S_IFMT) != S_IFREG) {
                        return new RegularFile(null, -1, 0, String.format(Locale.ROOT,
                                "is not a regular file (mode %o: a FIFO, a directory, a device or a socket)", mode));
                    }
                    size = buf.get(ValueLayout.JAVA_LONG, STATX_SIZE_AT);
                    modified = buf.get(ValueLayout.JAVA_LONG, STATX_MTIME_AT) * 1000
                            + buf.get(ValueLayout.JAVA_INT, STATX_MTIME_AT + 8) / 1_000_000;
                } else { // glibc before 2.28: the name's attributes; O_NONBLOCK still keeps a FIFO from blocking
                    var attributes = java.nio.file.Files.readAttributes(path,
                            java.nio.file.attribute.BasicFileAttributes.class, java.nio.file.LinkOption.NOFOLLOW_LINKS);
                    if (!attributes.isRegularFile()) {
                        return new RegularFile(null, -1, 0, "is not a regular file");
                    }
                    size = attributes.size();
                    modified = attributes.lastModifiedTime().toMillis();
                }
                if (size > limit) {
                    return new RegularFile(null, size, modified, "is " + size + " bytes, more than " + limit);
                }
                MemorySegment buffer = arena.allocate(Math.max(1, limit));
                long done = 0;
                while (done < limit) { // bounded even if the file grows meanwhile
                    long n = (long) PREAD.invokeExact(state, fd, buffer.asSlice(done), (long) limit - done, done);
                    if (n < 0) {
                        int err = errno(state);
                        if (err == EINTR) {
                            continue;
                        }
                        throw failure("pread", path, done, limit - done, err);
                    }
                    if (n == 0) {
                        break;
                    }
                    done += n;
                }
                return new RegularFile(buffer.asSlice(0, done).toArray(ValueLayout.JAVA_BYTE), size, modified, null);
            } finally {
                int unused = (int) CLOSE.invokeExact(state, fd); // releases the descriptor on Linux whatever it returns
            }
        } catch (KvbmException e) {
            throw e;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Reads exactly {@code destination.byteSize()} bytes at {@code offset}, resuming short reads, retrying EINTR/EAGAIN. */
    static void readFully(int fd, Path path, long offset, MemorySegment destination) {
        transferFully(PREAD, "pread", fd, path, offset, destination);
    }

    /** Writes all of {@code source} at {@code offset}, resuming short writes, retrying EINTR/EAGAIN. */
    static void writeFully(int fd, Path path, long offset, MemorySegment source) {
        transferFully(PWRITE, "pwrite", fd, path, offset, source);
    }

    private static void transferFully(MethodHandle call, String name, int fd, Path path, long offset,
                                      MemorySegment buffer) {
        ensureAvailable();
        long total = buffer.byteSize();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE_LAYOUT);
            long done = 0;
            while (done < total) {
                // Keep each call below 1 GiB: Linux caps one read/write at about 2 GiB anyway.
                long chunk = Math.min(total - done, 1L << 30);
                long n = (long) call.invokeExact(state, fd, buffer.asSlice(done, chunk), chunk, offset + done);
                if (n < 0) {
                    int err = errno(state);
                    if (err == EINTR) {
                        continue;
                    }
                    if (err == EAGAIN) {
                        Thread.yield();
                        continue;
                    }
                    throw failure(name, path, offset + done, chunk, err);
                }
                if (n == 0) {
                    throw new KvbmException(String.format(Locale.ROOT,
                            "%s of %s at offset %d returned 0 after %d of %d bytes (the file is shorter than expected)",
                            name, path, offset + done, done, total));
                }
                done += n;
            }
        } catch (KvbmException | IllegalStateException | IndexOutOfBoundsException e) {
            throw e;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static int errno(MemorySegment state) {
        return (int) ERRNO.get(state, 0L);
    }

    static KvbmException failure(String call, Path path, long offset, long length, int errno) {
        String message = String.format(Locale.ROOT, "%s(%s, offset=%d, length=%d) failed: %s",
                call, path, offset, length, describe(errno));
        if (errno == ENOSPC) {
            message += "; the file system is full: free space there, give the disk tier a smaller budget, or point"
                    + " -D" + DiskStorageProvider.DIRECTORY_PROPERTY + " at a larger one";
        }
        return new KvbmException(message);
    }

    /** {@code "errno 28 ENOSPC (No space left on device)"}. */
    static String describe(int errno) {
        String name = ERRNO_NAMES.get(errno);
        return "errno " + errno + (name == null ? "" : " " + name) + " (" + strerror(errno) + ")";
    }

    static String strerror(int errno) {
        try {
            MemorySegment message = (MemorySegment) STRERROR.invokeExact(errno);
            return message.reinterpret(256).getString(0);
        } catch (Throwable t) {
            return "unknown error";
        }
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            return r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new KvbmException("native call failed: " + t, t);
    }
}
