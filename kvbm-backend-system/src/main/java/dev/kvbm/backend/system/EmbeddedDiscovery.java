package dev.kvbm.backend.system;

import dev.kvbm.api.KvbmException;
import dev.kvbm.api.spi.Discovery;
import dev.kvbm.api.spi.DiscoveryProvider;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One connection of {@link EmbeddedDiscoveryProvider}. Entry file {@code <workerId>.entry}: magic
 * {@code KVBMDSC1}, then big-endian worker id (8), pid (8), TTL in ms (8), sequence (8, increases with every
 * update), name (2-byte length, UTF-8), metadata (4-byte length, bytes). Files are read as untrusted: every length
 * is checked against the file and the limits, and a file that fails is counted and skipped (logged once per
 * version of the file).
 */
final class EmbeddedDiscovery implements Discovery {

    /** Setting: {@code false} turns off the liveness check of the writer's pid (a directory shared across hosts). */
    static final String PID_CHECK_SETTING = "pidCheck";

    private static final System.Logger LOG = System.getLogger(EmbeddedDiscovery.class.getName());
    private static final byte[] MAGIC = "KVBMDSC1".getBytes(StandardCharsets.US_ASCII);
    private static final String SUFFIX = ".entry";
    private static final AtomicInteger THREADS = new AtomicInteger();

    private final Path directory;
    private final long ttlMillis;
    private final boolean pidCheck;
    private final ScheduledExecutorService timer;
    private final List<RegistrationImpl> registrations = new CopyOnWriteArrayList<>();
    private final List<WatchImpl> watches = new CopyOnWriteArrayList<>();
    private final AtomicLong malformed = new AtomicLong();
    private final Map<Path, String> reported = new ConcurrentHashMap<>(); // file -> the version logged as malformed
    private final AtomicBoolean closed = new AtomicBoolean();

    EmbeddedDiscovery(Path directory, DiscoveryProvider.Options options) {
        this.directory = directory;
        this.ttlMillis = options.ttl().toMillis();
        this.pidCheck = !"false".equalsIgnoreCase(options.settings().getOrDefault(PID_CHECK_SETTING, "true"));
        try {
            Files.createDirectories(directory);
        } catch (IOException e) {
            throw new KvbmException("cannot create the discovery directory " + directory + ": " + e.getMessage()
                    + "; give a writable directory as the endpoints or -D"
                    + EmbeddedDiscoveryProvider.DIRECTORY_PROPERTY, e);
        }
        int id = THREADS.incrementAndGet();
        this.timer = Executors.newScheduledThreadPool(1, r -> {
            Thread t = new Thread(r, "kvbm-discovery-" + id);
            t.setDaemon(true);
            return t;
        });
    }

    private void ensureOpen() {
        if (closed.get()) {
            throw new IllegalStateException("discovery connection to " + directory + " is closed");
        }
    }

    @Override
    public Registration register(WorkerEntry entry) {
        ensureOpen();
        Stored existing = read(fileOf(entry.workerId()));
        long pid = ProcessHandle.current().pid();
        if (existing != null && existing.pid != pid && alive(existing, System.currentTimeMillis())) {
            throw new IllegalStateException(String.format(Locale.ROOT,
                    "worker id %s is registered by live process %d (%s) in %s; give this worker another id",
                    Long.toUnsignedString(entry.workerId()), existing.pid, existing.entry.name(), directory));
        }
        RegistrationImpl r = new RegistrationImpl(entry, existing == null ? 1 : existing.sequence + 1);
        r.write();
        long beat = Math.max(100, ttlMillis / 3);
        r.heartbeat = timer.scheduleWithFixedDelay(r::beat, beat, beat, TimeUnit.MILLISECONDS);
        registrations.add(r);
        return r;
    }

    @Override
    public List<WorkerEntry> workers() {
        ensureOpen();
        return scan().values().stream().map(s -> s.entry).sorted(Comparator.comparing(e -> Long.toUnsignedString(
                e.workerId()))).toList();
    }

    @Override
    public Watch watch(Listener listener) {
        ensureOpen();
        WatchImpl w = new WatchImpl(listener);
        watches.add(w);
        long every = Math.max(50, Math.min(250, ttlMillis / 8));
        w.task = timer.scheduleWithFixedDelay(w::poll, 0, every, TimeUnit.MILLISECONDS);
        return w;
    }

    @Override
    public long malformedEntries() {
        return malformed.get();
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        for (WatchImpl w : watches) {
            w.close();
        }
        for (RegistrationImpl r : registrations) {
            r.close();
        }
        timer.shutdown();
        try {
            if (!timer.awaitTermination(10, TimeUnit.SECONDS)) {
                LOG.log(System.Logger.Level.WARNING, "discovery thread did not stop within 10 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private Path fileOf(long workerId) {
        return directory.resolve(Long.toUnsignedString(workerId) + SUFFIX);
    }

    /** What a file says, with its heartbeat. */
    private record Stored(WorkerEntry entry, long pid, long ttlMillis, long sequence, long heartbeatMillis) {
    }

    private boolean alive(Stored s, long now) {
        if (now - s.heartbeatMillis > s.ttlMillis) {
            return false;
        }
        return !pidCheck || ProcessHandle.of(s.pid).map(ProcessHandle::isAlive).orElse(false);
    }

    /** The live entries by worker id; expired ones (and those of dead processes) are removed from the directory. */
    private Map<Long, Stored> scan() {
        Map<Long, Stored> live = new HashMap<>();
        long now = System.currentTimeMillis();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(directory, "*" + SUFFIX)) {
            for (Path file : files) {
                Stored s = read(file);
                if (s == null) {
                    continue;
                }
                if (!alive(s, now)) {
                    removeIfUnchanged(file, s);
                    continue;
                }
                live.put(s.entry.workerId(), s);
            }
        } catch (NoSuchFileException e) {
            // the directory was removed: no workers; it is created again by the next registration
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list the discovery directory " + directory, e);
        }
        return live;
    }

    /** Deletes an expired entry, unless its writer replaced or renewed it in the meantime. */
    private void removeIfUnchanged(Path file, Stored seen) {
        Stored again = read(file);
        if (again != null && again.sequence == seen.sequence && again.heartbeatMillis == seen.heartbeatMillis) {
            try {
                Files.deleteIfExists(file);
            } catch (IOException e) {
                LOG.log(System.Logger.Level.DEBUG, "could not remove expired discovery entry " + file, e);
            }
        }
    }

    /** Reads and checks one entry file; null when it is gone or malformed (counted and logged). */
    private Stored read(Path file) {
        byte[] bytes;
        long heartbeat;
        try {
            // Opened once and checked on the descriptor: an entry replaced by a FIFO, a link or a device between a
            // look and an open could otherwise block workers() and the connection's thread for ever.
            PosixFiles.RegularFile entry = PosixFiles.readRegularFile(file, WorkerEntry.MAX_METADATA + 4096);
            if (entry == null) {
                return null;
            }
            if (entry.notRegular() != null) {
                return malformed(file, entry.notRegular(), entry.size());
            }
            bytes = entry.bytes();
            heartbeat = entry.modifiedMillis();
        } catch (dev.kvbm.api.KvbmException e) {
            LOG.log(System.Logger.Level.DEBUG, "could not read discovery entry " + file, e);
            return null;
        }
        try {
            ByteBuffer in = ByteBuffer.wrap(bytes);
            byte[] magic = new byte[MAGIC.length];
            need(in, MAGIC.length, "the magic");
            in.get(magic);
            if (!java.util.Arrays.equals(magic, MAGIC)) {
                return malformed(file, "does not start with " + new String(MAGIC, StandardCharsets.US_ASCII)
                        + " (another program's file, or a newer version of this format)", bytes.length);
            }
            need(in, 32, "the header");
            long workerId = in.getLong();
            long pid = in.getLong();
            long ttl = in.getLong();
            long sequence = in.getLong();
            if (pid <= 0 || ttl < 1000 || ttl > 3_600_000 || sequence < 1) {
                return malformed(file, String.format(Locale.ROOT, "has pid %d, ttl %d ms, sequence %d: out of range",
                        pid, ttl, sequence), bytes.length);
            }
            need(in, 2, "the name's length");
            int nameLength = Short.toUnsignedInt(in.getShort());
            need(in, nameLength, "the name");
            byte[] name = new byte[nameLength];
            in.get(name);
            need(in, 4, "the metadata's length");
            int metadataLength = in.getInt();
            if (metadataLength < 0 || metadataLength > WorkerEntry.MAX_METADATA) {
                return malformed(file, "declares " + Integer.toUnsignedString(metadataLength)
                        + " bytes of metadata, over the limit", bytes.length);
            }
            need(in, metadataLength, "the metadata");
            byte[] metadata = new byte[metadataLength];
            in.get(metadata);
            if (in.hasRemaining()) {
                return malformed(file, "has " + in.remaining() + " bytes after the metadata", bytes.length);
            }
            String decoded = StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(name)).toString();
            Stored s = new Stored(new WorkerEntry(workerId, decoded, metadata), pid, ttl, sequence, heartbeat);
            if (!file.getFileName().toString().equals(Long.toUnsignedString(workerId) + SUFFIX)) {
                return malformed(file, "holds worker " + Long.toUnsignedString(workerId) + ", not the one its name says",
                        bytes.length);
            }
            return s;
        } catch (Truncated e) {
            return malformed(file, "ends before " + e.getMessage(), bytes.length);
        } catch (CharacterCodingException e) {
            return malformed(file, "has a name that is not UTF-8", bytes.length);
        } catch (IllegalArgumentException e) {
            return malformed(file, e.getMessage(), bytes.length);
        }
    }

    private static final class Truncated extends Exception {
        Truncated(String what) {
            super(what, null, false, false);
        }
    }

    private static void need(ByteBuffer in, int bytes, String what) throws Truncated {
        if (in.remaining() < bytes) {
            throw new Truncated(what + " (" + bytes + " bytes needed at offset " + in.position() + ", "
                    + in.remaining() + " left)");
        }
    }

    private Stored malformed(Path file, String why, long size) {
        malformed.incrementAndGet();
        String version = size + ":" + why;
        if (!version.equals(reported.put(file, version))) {
            LOG.log(System.Logger.Level.WARNING, "discovery entry {0} dropped: it {1}", file, why);
        }
        return null;
    }

    private final class RegistrationImpl implements Registration {
        private final long workerId;
        private final String name;
        private volatile byte[] metadata;
        private long sequence; // guarded by this
        private volatile java.util.concurrent.ScheduledFuture<?> heartbeat;
        private final AtomicBoolean withdrawn = new AtomicBoolean();

        RegistrationImpl(WorkerEntry entry, long sequence) {
            this.workerId = entry.workerId();
            this.name = entry.name();
            this.metadata = entry.metadata();
            this.sequence = sequence;
        }

        /** Writes the whole entry to a temporary file and renames it over the entry: readers see all or nothing. */
        synchronized void write() {
            Path file = fileOf(workerId);
            Path temporary = directory.resolve("." + Long.toUnsignedString(workerId) + "." + ProcessHandle.current().pid()
                    + ".tmp");
            try {
                Files.createDirectories(directory);
                ByteArrayOutputStream buffer = new ByteArrayOutputStream(64 + metadata.length);
                DataOutputStream out = new DataOutputStream(buffer);
                byte[] nameBytes = name.getBytes(StandardCharsets.UTF_8);
                out.write(MAGIC);
                out.writeLong(workerId);
                out.writeLong(ProcessHandle.current().pid());
                out.writeLong(ttlMillis);
                out.writeLong(sequence);
                out.writeShort(nameBytes.length);
                out.write(nameBytes);
                out.writeInt(metadata.length);
                out.write(metadata);
                Files.write(temporary, buffer.toByteArray());
                Files.move(temporary, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (IOException e) {
                throw new KvbmException("cannot write discovery entry " + file + ": " + e.getMessage(), e);
            }
        }

        /** Renews the entry; rewrites it when a watcher removed it as expired (the worker was stalled). */
        synchronized void beat() {
            if (withdrawn.get()) {
                return;
            }
            Path file = fileOf(workerId);
            try {
                Files.setLastModifiedTime(file, FileTime.from(Instant.now()));
            } catch (NoSuchFileException e) {
                LOG.log(System.Logger.Level.WARNING, "discovery entry {0} had expired; registering again", file);
                sequence++;
                write();
            } catch (IOException | RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "could not renew discovery entry " + file, e);
            }
        }

        @Override
        public synchronized void update(byte[] metadata) {
            if (withdrawn.get()) {
                throw new IllegalStateException("registration of worker " + Long.toUnsignedString(workerId)
                        + " was withdrawn");
            }
            this.metadata = new WorkerEntry(workerId, name, metadata).metadata();
            sequence++;
            write();
        }

        @Override
        public void close() {
            if (!withdrawn.compareAndSet(false, true)) {
                return;
            }
            java.util.concurrent.ScheduledFuture<?> h = heartbeat;
            if (h != null) {
                h.cancel(false);
            }
            synchronized (this) {
                Stored current = read(fileOf(workerId));
                if (current != null && current.pid == ProcessHandle.current().pid() && current.sequence == sequence) {
                    try {
                        Files.deleteIfExists(fileOf(workerId));
                    } catch (IOException e) {
                        LOG.log(System.Logger.Level.WARNING, "could not withdraw discovery entry " + fileOf(workerId), e);
                    }
                }
            }
            registrations.remove(this);
        }
    }

    private final class WatchImpl implements Watch {
        private final Listener listener;
        private final Map<Long, Stored> known = new LinkedHashMap<>(); // touched by the timer thread only
        private volatile java.util.concurrent.ScheduledFuture<?> task;
        private final AtomicBoolean stopped = new AtomicBoolean();

        WatchImpl(Listener listener) {
            this.listener = java.util.Objects.requireNonNull(listener, "listener");
        }

        void poll() {
            if (stopped.get()) {
                return;
            }
            Map<Long, Stored> now;
            try {
                now = scan();
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "discovery scan of " + directory + " failed; retrying", e);
                return;
            }
            Set<Long> gone = new HashSet<>(known.keySet());
            gone.removeAll(now.keySet());
            for (Long id : new ArrayList<>(gone)) {
                Stored last = known.remove(id);
                deliver(() -> listener.left(last.entry));
            }
            for (Map.Entry<Long, Stored> e : now.entrySet()) {
                Stored before = known.put(e.getKey(), e.getValue());
                if (before == null) {
                    deliver(() -> listener.joined(e.getValue().entry));
                } else if (before.sequence != e.getValue().sequence || before.pid != e.getValue().pid) {
                    deliver(() -> listener.changed(e.getValue().entry));
                }
            }
        }

        private void deliver(Runnable call) {
            if (stopped.get()) {
                return;
            }
            try {
                call.run();
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "a discovery listener threw; the watch goes on", e);
            }
        }

        @Override
        public void close() {
            if (stopped.compareAndSet(false, true)) {
                java.util.concurrent.ScheduledFuture<?> t = task;
                if (t != null) {
                    t.cancel(false);
                }
                watches.remove(this);
            }
        }
    }
}
