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
import java.util.Optional;

/**
 * One io_uring instance, bound with the raw system calls ({@code io_uring_setup}, {@code io_uring_enter}) and
 * {@code mmap} of its rings — no liburing needed. Used by one thread only ({@link UringDiskIo}'s ring thread):
 * {@link #prepare} fills submission entries, {@link #enter} submits them and waits for completions,
 * {@link #reap} hands completions over. The kernel shares the ring heads and tails with us, so those are read
 * with acquire and written with release semantics; every other field is private to one side at a time.
 */
final class IoUring implements AutoCloseable {

    /** {@code IORING_OP_READ} and {@code IORING_OP_WRITE} (Linux 5.6+). */
    static final int OP_READ = 22;
    static final int OP_WRITE = 23;

    private static final long SYS_IO_URING_SETUP = 425; // the same number on every architecture
    private static final long SYS_IO_URING_ENTER = 426;
    private static final int IORING_ENTER_GETEVENTS = 1;
    private static final int IORING_FEAT_SINGLE_MMAP = 1;
    private static final long IORING_OFF_SQ_RING = 0;
    private static final long IORING_OFF_CQ_RING = 0x8000000L;
    private static final long IORING_OFF_SQES = 0x10000000L;
    private static final int PROT_READ_WRITE = 0x3;
    private static final int MAP_SHARED_POPULATE = 0x01 | 0x8000;
    private static final long SQE_SIZE = 64;
    private static final long CQE_SIZE = 16;
    private static final long PARAMS_SIZE = 120;

    private static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();
    private static final Throwable UNAVAILABILITY;
    private static final StructLayout CAPTURE_LAYOUT;
    private static final VarHandle ERRNO;
    private static final MethodHandle SETUP;
    private static final MethodHandle ENTER;
    private static final MethodHandle MMAP;
    private static final MethodHandle MUNMAP;
    private static final MethodHandle CLOSE;

    static {
        Throwable cause = PosixFiles.unavailabilityCause().orElse(null);
        StructLayout capture = null;
        VarHandle errno = null;
        MethodHandle setup = null;
        MethodHandle enter = null;
        MethodHandle mmap = null;
        MethodHandle munmap = null;
        MethodHandle close = null;
        if (cause == null) {
            try {
                Linker linker = Linker.nativeLinker();
                SymbolLookup libc = linker.defaultLookup();
                capture = Linker.Option.captureStateLayout();
                errno = capture.varHandle(MemoryLayout.PathElement.groupElement("errno"));
                Linker.Option errnoOption = Linker.Option.captureCallState("errno");
                MemorySegment syscall = libc.find("syscall").orElseThrow(
                        () -> new UnsupportedOperationException("libc has no symbol syscall"));
                ValueLayout l = ValueLayout.JAVA_LONG;
                setup = linker.downcallHandle(syscall, FunctionDescriptor.of(l, l, l, ValueLayout.ADDRESS),
                        errnoOption, Linker.Option.firstVariadicArg(1));
                enter = linker.downcallHandle(syscall, FunctionDescriptor.of(l, l, l, l, l, l, l, l),
                        errnoOption, Linker.Option.firstVariadicArg(1));
                mmap = linker.downcallHandle(libc.find("mmap").orElseThrow(), FunctionDescriptor.of(
                        l, l, l, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, l), errnoOption);
                munmap = linker.downcallHandle(libc.find("munmap").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_INT, l, l));
                close = linker.downcallHandle(libc.find("close").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
            } catch (RuntimeException | LinkageError e) {
                cause = e;
            }
        }
        UNAVAILABILITY = cause;
        CAPTURE_LAYOUT = capture;
        ERRNO = errno;
        SETUP = setup;
        ENTER = enter;
        MMAP = mmap;
        MUNMAP = munmap;
        CLOSE = close;
    }

    private final int ringFd;
    private final int entries;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment captureState = arena.allocate(CAPTURE_LAYOUT == null ? 8 : CAPTURE_LAYOUT.byteSize());
    private final long sqMapAddress;
    private final long sqMapSize;
    private final long cqMapAddress; // 0 when the CQ ring shares the SQ ring's mapping
    private final long cqMapSize;
    private final long sqesAddress;
    private final long sqesSize;
    private final MemorySegment sqRing;
    private final MemorySegment cqRing;
    private final MemorySegment sqes;
    private final long sqHeadOffset;
    private final long sqTailOffset;
    private final int sqMask;
    private final long cqHeadOffset;
    private final long cqTailOffset;
    private final int cqMask;
    private final long cqesOffset;
    private int sqTail;
    private boolean closed;

    /**
     * Why io_uring cannot be used here, or empty: tries to create and close a small ring (a kernel without it,
     * {@code kernel.io_uring_disabled}, or a seccomp filter refuses it).
     */
    static Optional<Throwable> unavailabilityCause() {
        if (UNAVAILABILITY != null) {
            return Optional.of(UNAVAILABILITY);
        }
        try (IoUring ignored = new IoUring(2)) {
            return Optional.empty();
        } catch (RuntimeException e) {
            return Optional.of(e);
        }
    }

    /** A ring with room for {@code entries} submissions (a power of two is used as is) and twice as many completions. */
    IoUring(int entries) {
        if (UNAVAILABILITY != null) {
            throw new UnsupportedOperationException("io_uring unavailable: " + UNAVAILABILITY.getMessage(), UNAVAILABILITY);
        }
        try {
            MemorySegment params = arena.allocate(PARAMS_SIZE, 8);
            long fd = (long) SETUP.invokeExact(captureState, SYS_IO_URING_SETUP, (long) entries, params);
            if (fd < 0) {
                int err = errno();
                arena.close();
                throw new KvbmException("io_uring_setup(" + entries + ") failed: " + PosixFiles.describe(err));
            }
            this.ringFd = (int) fd;
            this.entries = params.get(ValueLayout.JAVA_INT, 0);
            int cqEntries = params.get(ValueLayout.JAVA_INT, 4);
            int features = params.get(ValueLayout.JAVA_INT, 20);
            long sqOff = 40;
            long cqOff = 80;
            this.sqMapSize = params.get(ValueLayout.JAVA_INT, sqOff + 24) + (long) this.entries * Integer.BYTES;
            long cqRingSize = params.get(ValueLayout.JAVA_INT, cqOff + 20) + (long) cqEntries * CQE_SIZE;
            boolean single = (features & IORING_FEAT_SINGLE_MMAP) != 0;
            long sqSize = single ? Math.max(sqMapSize, cqRingSize) : sqMapSize;
            long sq = 0;
            long cq = 0;
            long sqesMap = 0;
            try {
                sq = map(sqSize, IORING_OFF_SQ_RING);
                cq = single ? 0 : map(cqRingSize, IORING_OFF_CQ_RING);
                sqesMap = map((long) this.entries * SQE_SIZE, IORING_OFF_SQES);
            } catch (RuntimeException e) {
                unmap(sq, sqSize);
                unmap(cq, cqRingSize);
                int ignored = (int) CLOSE.invokeExact(ringFd);
                arena.close();
                throw e;
            }
            this.sqMapAddress = sq;
            this.cqMapAddress = cq;
            this.cqMapSize = single ? 0 : cqRingSize;
            this.sqesAddress = sqesMap;
            this.sqesSize = (long) this.entries * SQE_SIZE;
            long sqTotal = single ? sqSize : sqMapSize;
            this.sqRing = MemorySegment.ofAddress(sq).reinterpret(sqTotal);
            this.cqRing = single ? sqRing : MemorySegment.ofAddress(cq).reinterpret(cqRingSize);
            this.sqes = MemorySegment.ofAddress(sqesMap).reinterpret(sqesSize);
            this.sqHeadOffset = params.get(ValueLayout.JAVA_INT, sqOff);
            this.sqTailOffset = params.get(ValueLayout.JAVA_INT, sqOff + 4);
            this.sqMask = sqRing.get(ValueLayout.JAVA_INT, params.get(ValueLayout.JAVA_INT, sqOff + 8));
            long array = params.get(ValueLayout.JAVA_INT, sqOff + 24);
            this.cqHeadOffset = params.get(ValueLayout.JAVA_INT, cqOff);
            this.cqTailOffset = params.get(ValueLayout.JAVA_INT, cqOff + 4);
            this.cqMask = cqRing.get(ValueLayout.JAVA_INT, params.get(ValueLayout.JAVA_INT, cqOff + 8));
            this.cqesOffset = params.get(ValueLayout.JAVA_INT, cqOff + 20);
            // Submission entry i is always at ring index i: the index array is filled once.
            for (int i = 0; i < this.entries; i++) {
                sqRing.set(ValueLayout.JAVA_INT, array + (long) i * Integer.BYTES, i);
            }
            this.sqTail = (int) INT.getAcquire(sqRing, sqTailOffset);
        } catch (KvbmException | UnsupportedOperationException e) {
            throw e;
        } catch (Throwable t) {
            throw new KvbmException("io_uring setup failed: " + t, t);
        }
    }

    private long map(long size, long offset) throws Throwable {
        long address = (long) MMAP.invokeExact(captureState, 0L, size, PROT_READ_WRITE, MAP_SHARED_POPULATE,
                ringFd, offset);
        if (address == -1L) {
            throw new KvbmException("mmap of an io_uring ring (" + size + " bytes at 0x"
                    + Long.toHexString(offset) + ") failed: " + PosixFiles.describe(errno()));
        }
        return address;
    }

    private static void unmap(long address, long size) {
        if (address != 0) {
            try {
                int ignored = (int) MUNMAP.invokeExact(address, size);
            } catch (Throwable t) {
                // nothing more to do: the process keeps the mapping
            }
        }
    }

    private int errno() {
        return (int) ERRNO.get(captureState, 0L);
    }

    /** Submission entries the ring holds. */
    int entries() {
        return entries;
    }

    /**
     * Queues one read or write of {@code length} bytes at file {@code offset} to or from host {@code address}.
     * The caller keeps at most {@link #entries()} operations unfinished, so a slot is always free.
     */
    void prepare(int opcode, int fd, long offset, long address, int length, long userData) {
        long at = (long) (sqTail & sqMask) * SQE_SIZE;
        MemorySegment sqe = sqes.asSlice(at, SQE_SIZE);
        sqe.fill((byte) 0);
        sqe.set(ValueLayout.JAVA_BYTE, 0, (byte) opcode);
        sqe.set(ValueLayout.JAVA_INT, 4, fd);
        sqe.set(ValueLayout.JAVA_LONG, 8, offset);
        sqe.set(ValueLayout.JAVA_LONG, 16, address);
        sqe.set(ValueLayout.JAVA_INT, 24, length);
        sqe.set(ValueLayout.JAVA_LONG, 32, userData);
        sqTail++;
        INT.setRelease(sqRing, sqTailOffset, sqTail);
    }

    /**
     * Submits what {@link #prepare} queued and, when {@code waitForOne}, waits until at least one completion is
     * there. Returns quietly when interrupted by a signal ({@code EINTR}) or when the kernel is short of resources
     * for a moment ({@code EAGAIN}, {@code EBUSY}): the caller reaps and enters again.
     */
    void enter(boolean waitForOne) {
        int toSubmit = sqTail - (int) INT.getAcquire(sqRing, sqHeadOffset);
        try {
            long rc = (long) ENTER.invokeExact(captureState, SYS_IO_URING_ENTER, (long) ringFd, (long) toSubmit,
                    waitForOne ? 1L : 0L, waitForOne ? (long) IORING_ENTER_GETEVENTS : 0L, 0L, 0L);
            if (rc < 0) {
                int err = errno();
                if (err != PosixFiles.EINTR && err != PosixFiles.EAGAIN && err != 16 /* EBUSY */) {
                    throw new KvbmException("io_uring_enter failed: " + PosixFiles.describe(err));
                }
            }
        } catch (KvbmException e) {
            throw e;
        } catch (Throwable t) {
            throw new KvbmException("io_uring_enter failed: " + t, t);
        }
    }

    /** What one completion said: the operation's {@code userData} and its result (bytes, or {@code -errno}). */
    interface Completion {
        void completed(long userData, int result);
    }

    /** Hands every completion that is there to {@code completion}; returns how many. */
    int reap(Completion completion) {
        int head = (int) INT.get(cqRing, cqHeadOffset);
        int tail = (int) INT.getAcquire(cqRing, cqTailOffset);
        int n = 0;
        while (head != tail) {
            long at = cqesOffset + (long) (head & cqMask) * CQE_SIZE;
            long userData = cqRing.get(ValueLayout.JAVA_LONG, at);
            int result = cqRing.get(ValueLayout.JAVA_INT, at + 8);
            head++;
            n++;
            INT.setRelease(cqRing, cqHeadOffset, head);
            completion.completed(userData, result);
        }
        return n;
    }

    /** Unmaps the rings and closes the ring; the caller waited for every operation first. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        unmap(sqesAddress, sqesSize);
        unmap(cqMapAddress, cqMapSize);
        unmap(sqMapAddress, sqMapSize == 0 ? 0 : sqRing.byteSize());
        try {
            int ignored = (int) CLOSE.invokeExact(ringFd);
        } catch (Throwable t) {
            // the descriptor is gone either way
        }
        arena.close();
    }
}
