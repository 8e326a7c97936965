package dev.kvbm.discovery.etcd;

import dev.kvbm.api.KvbmException;
import dev.kvbm.api.spi.Discovery;
import dev.kvbm.api.spi.DiscoveryProvider;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KV;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.Lease;
import io.etcd.jetcd.kv.GetResponse;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.PutOption;
import io.etcd.jetcd.options.WatchOption;
import io.etcd.jetcd.watch.WatchEvent;
import io.etcd.jetcd.watch.WatchResponse;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One connection of {@link EtcdDiscoveryProvider}. A value is: magic {@code KVBMETC1}, the registering connection's
 * random token (8 bytes, so a worker tells its own entry from another's), worker id (8), name (2-byte length,
 * UTF-8), metadata (4-byte length, bytes), big-endian. Values are untrusted: every length is checked, and a value
 * that fails is counted, logged and skipped.
 */
final class EtcdDiscovery implements Discovery {
    private static final System.Logger LOG = System.getLogger(EtcdDiscovery.class.getName());
    private static final byte[] MAGIC = "KVBMETC1".getBytes(StandardCharsets.US_ASCII);
    private static final AtomicInteger THREADS = new AtomicInteger();

    private final String endpoints;
    private final String prefix;
    private final long ttlSeconds;
    private final Duration callTimeout;
    private final Client client;
    private final KV kv;
    private final Lease leases;
    private final io.etcd.jetcd.Watch watchClient;
    private final ScheduledExecutorService timer;
    private final long token = new SecureRandom().nextLong();
    private final AtomicLong malformed = new AtomicLong();
    private final List<RegistrationImpl> registrations = new CopyOnWriteArrayList<>();
    private final List<WatchImpl> watches = new CopyOnWriteArrayList<>();
    private final AtomicBoolean closed = new AtomicBoolean();

    EtcdDiscovery(String endpoints, DiscoveryProvider.Options options) {
        this.endpoints = endpoints;
        this.prefix = "/kvbm/" + options.namespace() + "/workers/";
        this.ttlSeconds = Math.max(1, (options.ttl().toMillis() + 999) / 1000);
        this.callTimeout = Duration.ofSeconds(Math.max(3, ttlSeconds));
        String[] urls = Arrays.stream(endpoints.split(",")).map(String::strip).filter(s -> !s.isEmpty())
                .toArray(String[]::new);
        for (String url : urls) {
            if (!url.matches("https?://[^/\\s]+(:\\d+)?/?")) {
                throw new IllegalArgumentException("etcd endpoint '" + url + "' is not a URL such as"
                        + " http://127.0.0.1:2379");
            }
        }
        this.client = Client.builder().endpoints(urls).connectTimeout(Duration.ofSeconds(3))
                .retryMaxDuration(callTimeout).build();
        this.kv = client.getKVClient();
        this.leases = client.getLeaseClient();
        this.watchClient = client.getWatchClient();
        try {
            await(kv.get(bytes(prefix), GetOption.builder().isPrefix(true).withKeysOnly(true).withLimit(1).build()),
                    "reach etcd");
        } catch (RuntimeException e) {
            client.close();
            throw new KvbmException("cannot reach etcd at " + endpoints + ": " + e.getMessage()
                    + "; start it (Debian: etcd-server) or give the right endpoints", e);
        }
        int id = THREADS.incrementAndGet();
        this.timer = Executors.newScheduledThreadPool(1, r -> {
            Thread t = new Thread(r, "kvbm-etcd-" + id);
            t.setDaemon(true);
            return t;
        });
    }

    private static ByteSequence bytes(String s) {
        return ByteSequence.from(s, StandardCharsets.UTF_8);
    }

    private ByteSequence keyOf(long workerId) {
        return bytes(prefix + Long.toUnsignedString(workerId));
    }

    /** Waits for an etcd call, naming what it was for when it fails or takes longer than the call timeout. */
    private <T> T await(CompletableFuture<T> call, String what) {
        try {
            return call.get(callTimeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            call.cancel(true);
            throw new KvbmException("etcd at " + endpoints + " did not answer within " + callTimeout.toSeconds()
                    + " s to " + what, e);
        } catch (ExecutionException e) {
            throw new KvbmException("etcd at " + endpoints + " failed to " + what + ": " + e.getCause().getMessage(),
                    e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new KvbmException("interrupted while asking etcd to " + what, e);
        }
    }

    private void ensureOpen() {
        if (closed.get()) {
            throw new IllegalStateException("etcd discovery connection to " + endpoints + " is closed");
        }
    }

    /** A parsed value, with the token of the connection that wrote it. */
    private record Stored(WorkerEntry entry, long token, long modRevision) {
    }

    private byte[] encode(WorkerEntry entry) {
        byte[] name = entry.name().getBytes(StandardCharsets.UTF_8);
        byte[] metadata = entry.metadata();
        ByteBuffer out = ByteBuffer.allocate(MAGIC.length + 8 + 8 + 2 + name.length + 4 + metadata.length);
        out.put(MAGIC).putLong(token).putLong(entry.workerId()).putShort((short) name.length).put(name)
                .putInt(metadata.length).put(metadata);
        return out.array();
    }

    /** Parses and checks a value; null (counted and logged) when it cannot be read. */
    private Stored decode(KeyValue kvPair) {
        String key = kvPair.getKey().toString(StandardCharsets.UTF_8);
        byte[] value = kvPair.getValue().getBytes();
        try {
            ByteBuffer in = ByteBuffer.wrap(value);
            byte[] magic = new byte[MAGIC.length];
            if (in.remaining() < MAGIC.length + 18) {
                throw new IllegalArgumentException("is " + value.length + " bytes, shorter than a header");
            }
            in.get(magic);
            if (!Arrays.equals(magic, MAGIC)) {
                throw new IllegalArgumentException("does not start with KVBMETC1 (another program's key, or a"
                        + " newer version of this format)");
            }
            long writer = in.getLong();
            long workerId = in.getLong();
            int nameLength = Short.toUnsignedInt(in.getShort());
            if (in.remaining() < nameLength + 4) {
                throw new IllegalArgumentException("ends inside its name (" + nameLength + " bytes declared)");
            }
            byte[] name = new byte[nameLength];
            in.get(name);
            int metadataLength = in.getInt();
            if (metadataLength < 0 || metadataLength != in.remaining()) {
                throw new IllegalArgumentException("declares " + Integer.toUnsignedString(metadataLength)
                        + " bytes of metadata but " + in.remaining() + " follow");
            }
            byte[] metadata = new byte[metadataLength];
            in.get(metadata);
            if (!key.equals(prefix + Long.toUnsignedString(workerId))) {
                throw new IllegalArgumentException("holds worker " + Long.toUnsignedString(workerId)
                        + ", not the one its key names");
            }
            String decoded = StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(name)).toString();
            return new Stored(new WorkerEntry(workerId, decoded, metadata), writer, kvPair.getModRevision());
        } catch (IllegalArgumentException | java.nio.charset.CharacterCodingException e) {
            malformed.incrementAndGet();
            LOG.log(System.Logger.Level.WARNING, "etcd key {0} dropped: it {1}", key,
                    e instanceof IllegalArgumentException ? e.getMessage() : "has a name that is not UTF-8");
            return null;
        }
    }

    /** The live entries by worker id, and the revision they were read at. */
    private record Listing(Map<Long, Stored> entries, long revision) {
    }

    private Listing list() {
        GetResponse response = await(kv.get(bytes(prefix), GetOption.builder().isPrefix(true).build()),
                "list " + prefix);
        Map<Long, Stored> entries = new HashMap<>();
        for (KeyValue pair : response.getKvs()) {
            Stored s = decode(pair);
            if (s != null) {
                entries.put(s.entry().workerId(), s);
            }
        }
        return new Listing(entries, response.getHeader().getRevision());
    }

    @Override
    public Registration register(WorkerEntry entry) {
        ensureOpen();
        GetResponse existing = await(kv.get(keyOf(entry.workerId())), "read " + keyOf(entry.workerId()));
        for (KeyValue pair : existing.getKvs()) {
            Stored s = decode(pair);
            if (s != null && s.token() != token) {
                throw new IllegalStateException(String.format(Locale.ROOT,
                        "worker id %s is registered in etcd at %s by another live worker (%s); give this worker"
                                + " another id", Long.toUnsignedString(entry.workerId()), endpoints, s.entry().name()));
            }
        }
        RegistrationImpl r = new RegistrationImpl(entry);
        r.publish();
        long every = Math.max(300, ttlSeconds * 1000 / 3);
        r.renewal = timer.scheduleWithFixedDelay(r::renew, every, every, TimeUnit.MILLISECONDS);
        registrations.add(r);
        return r;
    }

    @Override
    public List<WorkerEntry> workers() {
        ensureOpen();
        return list().entries().values().stream().map(Stored::entry)
                .sorted(Comparator.comparing(e -> Long.toUnsignedString(e.workerId()))).toList();
    }

    @Override
    public Watch watch(Listener listener) {
        ensureOpen();
        WatchImpl w = new WatchImpl(listener);
        watches.add(w);
        w.start();
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
        timer.shutdownNow();
        client.close();
    }

    private final class RegistrationImpl implements Registration {
        private final long workerId;
        private final String name;
        private volatile byte[] metadata;
        private long leaseId; // guarded by this
        private volatile ScheduledFuture<?> renewal;
        private final AtomicBoolean withdrawn = new AtomicBoolean();
        private boolean outage; // guarded by this: the last renewal failed (logged once per outage)

        RegistrationImpl(WorkerEntry entry) {
            this.workerId = entry.workerId();
            this.name = entry.name();
            this.metadata = entry.metadata();
        }

        /** A new lease and the key under it. */
        synchronized void publish() {
            leaseId = await(leases.grant(ttlSeconds), "grant a lease of " + ttlSeconds + " s").getID();
            await(kv.put(keyOf(workerId), ByteSequence.from(encode(new WorkerEntry(workerId, name, metadata))),
                    PutOption.builder().withLeaseId(leaseId).build()), "put " + keyOf(workerId));
        }

        /**
         * Renews the lease; when the key is gone (the lease expired while etcd or this worker was unreachable, or
         * etcd lost its data) or is not ours any more, publishes it again under a new lease.
         */
        synchronized void renew() {
            if (withdrawn.get()) {
                return;
            }
            try {
                long ttl = await(leases.keepAliveOnce(leaseId), "renew lease " + Long.toHexString(leaseId)).getTTL();
                boolean ours = false;
                for (KeyValue pair : await(kv.get(keyOf(workerId)), "read " + keyOf(workerId)).getKvs()) {
                    Stored s = decode(pair);
                    ours |= s != null && s.token() == token && pair.getLease() == leaseId;
                }
                if (ttl <= 0 || !ours) {
                    LOG.log(System.Logger.Level.INFO, "etcd entry of worker {0} was gone; registering again",
                            Long.toUnsignedString(workerId));
                    publish();
                }
                if (outage) {
                    LOG.log(System.Logger.Level.INFO, "etcd at {0} reachable again; worker {1} is registered",
                            endpoints, Long.toUnsignedString(workerId));
                }
                outage = false;
            } catch (RuntimeException e) {
                if (!outage) {
                    LOG.log(System.Logger.Level.WARNING, "could not renew the etcd entry of worker "
                            + Long.toUnsignedString(workerId) + " (retrying every " + ttlSeconds * 1000 / 3
                            + " ms): " + e.getMessage());
                }
                outage = true;
                try {
                    publish(); // the lease may be gone for good: a fresh one once etcd answers again
                    outage = false;
                } catch (RuntimeException again) {
                    // still unreachable: the next renewal tries again
                }
            }
        }

        @Override
        public synchronized void update(byte[] metadata) {
            if (withdrawn.get()) {
                throw new IllegalStateException("registration of worker " + Long.toUnsignedString(workerId)
                        + " was withdrawn");
            }
            this.metadata = new WorkerEntry(workerId, name, metadata).metadata();
            await(kv.put(keyOf(workerId), ByteSequence.from(encode(new WorkerEntry(workerId, name, this.metadata))),
                    PutOption.builder().withLeaseId(leaseId).build()), "put " + keyOf(workerId));
        }

        @Override
        public void close() {
            if (!withdrawn.compareAndSet(false, true)) {
                return;
            }
            ScheduledFuture<?> r = renewal;
            if (r != null) {
                r.cancel(false);
            }
            synchronized (this) {
                try {
                    await(leases.revoke(leaseId), "revoke lease " + Long.toHexString(leaseId)); // deletes the key
                } catch (RuntimeException e) {
                    LOG.log(System.Logger.Level.WARNING, "could not withdraw worker " + Long.toUnsignedString(workerId)
                            + " from etcd (its entry expires within " + ttlSeconds + " s): " + e.getMessage());
                }
            }
            registrations.remove(this);
        }
    }

    /**
     * Lists the prefix, reports the differences, then follows it from the next revision; on a watch error, and
     * every TTL in any case, lists again and reports what the watch missed (a worker that left while etcd was
     * unreachable, a registry that lost its data), then restarts the watch from the listing's revision.
     */
    private final class WatchImpl implements Discovery.Watch {
        private final Listener listener;
        private final Map<Long, Stored> known = new HashMap<>(); // guarded by this
        private long revision; // guarded by this: the last revision reported
        private io.etcd.jetcd.Watch.Watcher watcher; // guarded by this
        private ScheduledFuture<?> resync;
        private final AtomicBoolean stopped = new AtomicBoolean();

        WatchImpl(Listener listener) {
            this.listener = java.util.Objects.requireNonNull(listener, "listener");
        }

        void start() {
            resyncAndWatch();
            long every = Math.max(1000, ttlSeconds * 1000);
            resync = timer.scheduleWithFixedDelay(this::resyncAndWatch, every, every, TimeUnit.MILLISECONDS);
        }

        synchronized void resyncAndWatch() {
            if (stopped.get()) {
                return;
            }
            Listing now;
            try {
                now = list();
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.DEBUG, "etcd listing failed; the watch retries", e);
                return;
            }
            for (Long id : new ArrayList<>(known.keySet())) {
                if (!now.entries().containsKey(id)) {
                    Stored last = known.remove(id);
                    deliver(() -> listener.left(last.entry()));
                }
            }
            for (Stored s : now.entries().values()) {
                report(s);
            }
            boolean restart = watcher == null || watcher.isClosed() || now.revision() < revision;
            revision = now.revision();
            if (restart) {
                if (watcher != null) {
                    watcher.close();
                }
                watcher = watchClient.watch(bytes(prefix), WatchOption.builder().isPrefix(true)
                        .withRevision(revision + 1).build(), io.etcd.jetcd.Watch.listener(this::onEvents, this::onError));
            }
        }

        private void report(Stored s) {
            Stored before = known.put(s.entry().workerId(), s);
            if (before == null) {
                deliver(() -> listener.joined(s.entry()));
            } else if (before.modRevision() != s.modRevision() && !before.entry().equals(s.entry())) {
                deliver(() -> listener.changed(s.entry()));
            } else if (before.modRevision() != s.modRevision() && before.token() != s.token()) {
                deliver(() -> listener.changed(s.entry())); // the same bytes from a restarted worker
            }
        }

        private synchronized void onEvents(WatchResponse response) {
            if (stopped.get()) {
                return;
            }
            for (WatchEvent event : response.getEvents()) {
                KeyValue pair = event.getKeyValue();
                if (pair.getModRevision() <= revision && event.getEventType() == WatchEvent.EventType.PUT) {
                    continue; // already reported by a listing
                }
                revision = Math.max(revision, pair.getModRevision());
                switch (event.getEventType()) {
                    case PUT -> {
                        Stored s = decode(pair);
                        if (s != null) {
                            report(s);
                        }
                    }
                    case DELETE -> {
                        String key = pair.getKey().toString(StandardCharsets.UTF_8);
                        try {
                            Stored last = known.remove(Long.parseUnsignedLong(key.substring(prefix.length())));
                            if (last != null) {
                                deliver(() -> listener.left(last.entry()));
                            }
                        } catch (NumberFormatException | IndexOutOfBoundsException e) {
                            // a key that never named a worker
                        }
                    }
                    default -> {
                        // an event type this client does not know: the next listing settles it
                    }
                }
            }
        }

        private void onError(Throwable t) {
            if (stopped.get()) {
                return;
            }
            LOG.log(System.Logger.Level.INFO, "etcd watch of " + prefix + " failed (" + t.getMessage()
                    + "); listing again");
            synchronized (this) {
                if (watcher != null) {
                    watcher.close();
                    watcher = null;
                }
            }
            timer.schedule(this::resyncAndWatch, 500, TimeUnit.MILLISECONDS);
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
            if (!stopped.compareAndSet(false, true)) {
                return;
            }
            if (resync != null) {
                resync.cancel(false);
            }
            synchronized (this) {
                if (watcher != null) {
                    watcher.close();
                }
            }
            watches.remove(this);
        }
    }
}
