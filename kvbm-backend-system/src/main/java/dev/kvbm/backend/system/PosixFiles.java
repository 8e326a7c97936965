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
import java.util.Optional;

/**
 * Every foreign call of this module, to libc: {@code open}, {@code close}, {@code posix_fallocate},
 * {@code pread}, {@code pwrite}. Probed once; when the probe fails (not Linux, or native access not enabled for
 * this module) the cause is kept and {@link #unavailabilityCause()} reports it with the flag that fixes it.
 * Return codes become {@link KvbmException}s naming the call, the file, the range and the errno.
 */
final class PosixFiles {

    private static final String MODULE_FLAG = "--enable-native-access=" + moduleName();

    // Linux open(2) flags; identical on x86_64 and aarch64.
    private static final int O_RDWR = 0x2;
    private static final int O_CREAT = 0x40;
    private static final int O_EXCL = 0x80;
    private static final int O_CLOEXEC = 0x80000;
    private static final int EINTR = 4;

    private static final Throwable UNAVAILABILITY;
    private static final StructLayout CAPTURE_LAYOUT;
    private static final VarHandle ERRNO;
    private static final MethodHandle OPEN;
    private static final MethodHandle CLOSE;
    private static final MethodHandle FALLOCATE;
    private static final MethodHandle PREAD;
    private static final MethodHandle PWRITE;
    private static final MethodHandle STRERROR;

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

    /** Reads exactly {@code destination.byteSize()} bytes at {@code offset}, retrying short reads. */
    static void readFully(int fd, Path path, long offset, MemorySegment destination) {
        transferFully(PREAD, "pread", fd, path, offset, destination);
    }

    /** Writes all of {@code source} at {@code offset}, retrying short writes. */
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

    private static KvbmException failure(String call, Path path, long offset, long length, int errno) {
        return new KvbmException(String.format(Locale.ROOT, "%s(%s, offset=%d, length=%d) failed: errno %d (%s)",
                call, path, offset, length, errno, strerror(errno)));
    }

    private static String strerror(int errno) {
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
