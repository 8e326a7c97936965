package dev.kvbm.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kvbm.api.spi.Discovery;
import dev.kvbm.api.spi.DiscoveryProvider;
import dev.kvbm.layout.OwnedLayout;
import dev.kvbm.manager.BlockPool;
import dev.kvbm.manager.ImmutableBlock;
import dev.kvbm.manager.KvBlockManager;
import dev.kvbm.manager.MutableBlock;
import dev.kvbm.manager.OnboardResult;
import dev.kvbm.manager.PrefixMatch;
import dev.kvbm.manager.PullResult;
import dev.kvbm.manager.Tier;
import dev.kvbm.manager.TierSpec;
import dev.kvbm.manager.TokenBlockSequence;
import dev.kvbm.transport.LayoutHandle;
import dev.kvbm.transport.SerializedLayout;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * One worker process of {@code kvbm demo}, started by {@link Demo}: {@code prefill} computes the requests' KV and
 * publishes where its blocks are; {@code decode} finds it through discovery and serves the same requests from its
 * own tiers, from the prefill worker's memory (UCX READ), or by computing, checking every byte it did not compute.
 * Arguments: role, work directory, seed, requests, prefixes, corrupt-block (-1: none), discovery provider,
 * endpoints, NATS servers ({@code -}: none). With NATS, the prefill worker publishes its G1's KV events there and
 * the decode worker follows them with a {@link dev.kvbm.manager.events.KvIndexer}, checking for every request that
 * the index agrees with where the prefill worker said its blocks are. Speaks to the parent in lines on stdout ({@code READY}, {@code REQ}, {@code SUMMARY}, ...) and reads
 * {@code STOP} on stdin.
 */
public final class DemoWorker {
    static final long PREFILL_ID = 1;
    static final long DECODE_ID = 2;
    static final String NAMESPACE = "kvbm-demo";
    private static final ObjectMapper JSON = new ObjectMapper();

    private DemoWorker() {
    }

    public static void main(String[] args) throws Exception {
        String role = args[0];
        Path work = Path.of(args[1]);
        long seed = Long.parseLong(args[2]);
        int requests = Integer.parseInt(args[3]);
        int prefixes = Integer.parseInt(args[4]);
        int corrupt = Integer.parseInt(args[5]);
        DiscoveryProvider provider = DiscoveryProvider.named(args[6]);
        String endpoints = args[7].equals("-") ? work.resolve("discovery").toString() : args[7];
        DiscoveryProvider.Options options = DiscoveryProvider.Options.of(NAMESPACE, endpoints)
                .withTtl(Duration.ofSeconds(5));
        String nats = args.length > 8 && !args[8].equals("-") ? args[8] : null;
        List<int[]> prompts = DemoContent.requests(seed, requests, prefixes);
        int code = role.equals("prefill") ? prefill(work, prompts, corrupt, provider, options, nats)
                : decode(work, prompts, provider, options, nats);
        System.out.flush();
        System.exit(code);
    }

    private static KvBlockManager manager(long id, Path disk, int g1, int g2, int g3, String nats) throws Exception {
        Files.createDirectories(disk);
        KvBlockManager.Builder b = KvBlockManager.builder().workerId(id).agent("ucx").model(DemoContent.SHAPE)
                .tier(Tier.G1, TierSpec.blocks(g1)).tier(Tier.G2, TierSpec.blocks(g2))
                .tier(Tier.G3, TierSpec.blocks(g3).directory(disk));
        if (nats != null) {
            b.events("nats", Map.of("servers", nats, "namespace", NAMESPACE));
        }
        return b.build();
    }

    /**
     * Runs an operation that takes G1 blocks; when G1 is short because offloads still hold blocks, waits for them to
     * finish and tries once more (backpressure, as an engine would apply it).
     */
    private static <T> T withG1(KvBlockManager kvbm, java.util.function.Supplier<T> op) {
        try {
            return op.get();
        } catch (dev.kvbm.manager.NotEnoughBlocksException e) {
            kvbm.offloadsIdle().join();
            return op.get();
        }
    }

    private static void say(String line) {
        System.out.println(line);
        System.out.flush();
    }

    // ---------------------------------------------------------------------------------------------- prefill

    private static int prefill(Path work, List<int[]> prompts, int corrupt, DiscoveryProvider provider,
                               DiscoveryProvider.Options options, String nats) throws Exception {
        int computed = 0;
        int reused = 0;
        try (KvBlockManager kvbm = manager(PREFILL_ID, work.resolve("prefill-disk"), 48, 160, 2048, nats);
             Discovery registry = provider.connect(options)) {
            int registered = 0;
            for (int[] prompt : prompts) {
                TokenBlockSequence seq = DemoContent.sequence(prompt);
                long[] hashes = seq.sequenceHashes();
                try (PrefixMatch hit = kvbm.match(hashes);
                     OnboardResult up = withG1(kvbm, () -> kvbm.onboard(hit.blocks())).join()) {
                    int have = up.prefixLength();
                    reused += have;
                    int missing = hashes.length - have;
                    if (missing > 0) {
                        List<MutableBlock> blocks = withG1(kvbm, () -> kvbm.allocate(missing));
                        for (int k = 0; k < missing; k++) {
                            int i = have + k;
                            writeKv(kvbm.layout(Tier.G1), blocks.get(k).blockId(), hashes[i]);
                            if (registered++ == corrupt) {
                                MemorySegment first = kvbm.layout(Tier.G1).segment(blocks.get(k).blockId(), 0, 0);
                                first.set(ValueLayout.JAVA_BYTE, 0, (byte) ~first.get(ValueLayout.JAVA_BYTE, 0));
                                say("CORRUPTED block " + Long.toUnsignedString(hashes[i]));
                            }
                            blocks.get(k).complete(seq, i);
                        }
                        computed += missing;
                        KvBlockManager.release(kvbm.register(blocks));
                    }
                }
            }
            kvbm.offloadsIdle().join();
            byte[] published = publish(kvbm);
            BlockingQueue<String> inbox = new LinkedBlockingQueue<>();
            try (Discovery.Registration ignored = registry.register(new Discovery.WorkerEntry(PREFILL_ID, "prefill",
                    published)); Discovery.Watch watch = registry.watch(new Discovery.Listener() {
                        @Override
                        public void joined(Discovery.WorkerEntry e) {
                            if (e.workerId() == DECODE_ID) {
                                say("DECODE-JOINED worker " + DECODE_ID + " (" + e.name() + ")");
                            }
                        }

                        @Override
                        public void changed(Discovery.WorkerEntry e) {
                        }

                        @Override
                        public void left(Discovery.WorkerEntry e) {
                            if (e.workerId() == DECODE_ID) {
                                // Gone: our agent must not address it again (its name is its agent's name).
                                kvbm.transport().agent().ifPresent(a -> a.invalidateRemote(e.name()));
                                inbox.add("LEFT");
                            }
                        }
                    })) {
                Thread stdin = new Thread(() -> {
                    try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
                        String line;
                        while ((line = in.readLine()) != null) {
                            inbox.add(line.strip());
                        }
                    } catch (Exception e) {
                        // the parent is gone
                    }
                    inbox.add("EOF");
                }, "demo-stdin");
                stdin.setDaemon(true);
                stdin.start();
                say("READY computed=" + computed + " reused=" + reused + " published=" + published.length);
                while (true) {
                    String msg = inbox.poll(10, TimeUnit.MINUTES);
                    if (msg == null || msg.equals("STOP") || msg.equals("EOF")) {
                        break;
                    }
                    if (msg.equals("LEFT")) {
                        say("DECODE-LOST worker " + DECODE_ID + " (decode) left the registry before finishing;"
                                + " stopping cleanly");
                        break;
                    }
                }
            }
        }
        say("STOPPED");
        return 0;
    }

    private static void writeKv(OwnedLayout g1, int blockId, long sequenceHash) {
        for (int layer = 0; layer < DemoContent.SHAPE.numLayers(); layer++) {
            for (int outer = 0; outer < DemoContent.SHAPE.outerDim(); outer++) {
                DemoContent.fill(g1.segment(blockId, layer, outer), sequenceHash, layer, outer);
            }
        }
    }

    /**
     * What the prefill worker publishes: its exported block sets, and where each of its G1 and G2 blocks is —
     * {@code [4-byte length][exported metadata][JSON directory]}.
     */
    private static byte[] publish(KvBlockManager kvbm) throws Exception {
        ObjectNode dir = JSON.createObjectNode();
        dir.put("g1_layout", kvbm.handle(Tier.G1).layoutId());
        ArrayNode blocks = dir.putArray("blocks");
        for (Tier tier : List.of(Tier.G1, Tier.G2)) {
            LayoutHandle handle = kvbm.handle(tier);
            for (BlockPool.RegisteredBlock b : kvbm.pool(tier).registeredBlocks(null)) {
                ArrayNode entry = blocks.addArray();
                entry.add(Long.toUnsignedString(b.sequenceHash())).add(handle.layoutId()).add(b.blockId());
            }
        }
        byte[] exported = kvbm.exportBlockSets().toBytes();
        byte[] directory = JSON.writeValueAsBytes(dir);
        return ByteBuffer.allocate(4 + exported.length + directory.length).putInt(exported.length).put(exported)
                .put(directory).array();
    }

    // ----------------------------------------------------------------------------------------------- decode

    /** A block of the prefill worker: which of its layouts and which block. */
    private record Remote(int layoutId, int blockId) {
    }

    private static int decode(Path work, List<int[]> prompts, DiscoveryProvider provider,
                              DiscoveryProvider.Options options, String nats) throws Exception {
        long start = System.nanoTime();
        Map<String, Long> paths = new HashMap<>(Map.of("g1_hit", 0L, "onboard_g2", 0L, "onboard_g3", 0L,
                "remote_read", 0L, "computed", 0L));
        List<String> failures = new ArrayList<>();
        long blocksAsked = 0;
        long verified = 0;
        long refused = 0;
        long indexQueries = 0;
        long indexAgreed = 0;
        dev.kvbm.events.nats.NatsKvEvents events = nats == null ? null : dev.kvbm.events.nats.NatsKvEvents.connect(
                dev.kvbm.events.nats.NatsKvEvents.Settings.of(nats, NAMESPACE));
        dev.kvbm.manager.events.KvIndexer index = events == null ? null
                : new dev.kvbm.manager.events.KvIndexer(events, Duration.ofSeconds(1));
        AutoCloseable feed = events == null ? null : events.feed(index);
        try (KvBlockManager kvbm = manager(DECODE_ID, work.resolve("decode-disk"), 48, 96, 1024, null);
             Discovery registry = provider.connect(options)) {
            Discovery.WorkerEntry prefill = awaitPrefill(registry);
            ByteBuffer in = ByteBuffer.wrap(prefill.metadata());
            byte[] exported = new byte[in.getInt()];
            in.get(exported);
            byte[] directoryBytes = new byte[in.remaining()];
            in.get(directoryBytes);
            kvbm.importBlockSets(SerializedLayout.fromBytes(exported));
            Map<Long, Remote> remote = new HashMap<>();
            JsonNode directory = JSON.readTree(directoryBytes);
            int g1Layout = directory.get("g1_layout").asInt();
            if (index != null) {
                index.resync(PREFILL_ID); // it is idle now: no event of its would reveal what the index missed
                awaitIndex(index);
            }
            java.util.Set<Long> inPrefillG1 = new java.util.HashSet<>();
            for (JsonNode e : directory.get("blocks")) {
                long hash = Long.parseUnsignedLong(e.get(0).asText());
                remote.put(hash, new Remote(e.get(1).asInt(), e.get(2).asInt()));
                if (e.get(1).asInt() == g1Layout) {
                    inPrefillG1.add(hash);
                }
            }
            say("FOUND prefill worker " + PREFILL_ID + " (" + prefill.name() + "): " + remote.size()
                    + " blocks in its memory");
            try (Discovery.Registration ignored = registry.register(new Discovery.WorkerEntry(DECODE_ID,
                    kvbm.transport().agentName(), new byte[0]))) {
                int r = 0;
                for (int[] prompt : prompts) {
                    TokenBlockSequence seq = DemoContent.sequence(prompt);
                    long[] hashes = seq.sequenceHashes();
                    blocksAsked += hashes.length;
                    if (index != null) {
                        // The index, fed only by the prefill worker's events, must agree with where it said its blocks are.
                        int byIndex = index.match(hashes).getOrDefault(PREFILL_ID, 0);
                        int byDirectory = 0;
                        while (byDirectory < hashes.length && inPrefillG1.contains(hashes[byDirectory])) {
                            byDirectory++;
                        }
                        indexQueries++;
                        if (byIndex == byDirectory) {
                            indexAgreed++;
                        } else {
                            failures.add("request " + r + ": the KV index says the prefill worker holds " + byIndex
                                    + " leading blocks in G1, its directory says " + byDirectory);
                        }
                    }
                    try (PrefixMatch hit = kvbm.match(hashes);
                         OnboardResult up = withG1(kvbm, () -> kvbm.onboard(hit.blocks())).join()) {
                        for (int i = 0; i < hit.blocks().size(); i++) {
                            String tier = hit.blocks().get(i).tier();
                            paths.merge(tier.equals("G1") ? "g1_hit" : tier.equals("G2") ? "onboard_g2" : "onboard_g3",
                                    1L, Long::sum);
                        }
                        for (OnboardResult.Failure f : up.failures()) {
                            failures.add("request " + r + " block " + f.index() + " (hash " + Long.toUnsignedString(
                                    f.sequenceHash()) + "): onboard from " + f.fromTier() + " failed: " + f.cause());
                        }
                        int have = up.prefixLength();
                        for (int i = 0; i < have; i++) {
                            verified += verify(kvbm, up.prefix().get(i).blockId(), hashes[i], r, i,
                                    hit.blocks().get(i).tier(), failures);
                        }
                        int next = have;
                        // From the prefill worker's memory, in runs that live in the same layout.
                        while (next < hashes.length && remote.containsKey(hashes[next])) {
                            int layoutId = remote.get(hashes[next]).layoutId();
                            List<Integer> ids = new ArrayList<>();
                            int from = next;
                            while (next < hashes.length && remote.containsKey(hashes[next])
                                    && remote.get(hashes[next]).layoutId() == layoutId) {
                                ids.add(remote.get(hashes[next]).blockId());
                                next++;
                            }
                            int[] remoteIds = ids.stream().mapToInt(Integer::intValue).toArray();
                            // Verified: each block's state at the prefill worker is read before and after its
                            // bytes, and a block it no longer held under that hash is refused (recomputed).
                            int good = 0;
                            try (PullResult pulled = withG1(kvbm, () -> kvbm.pull(kvbm.remoteBlocks(
                                    new LayoutHandle(PREFILL_ID, layoutId), remoteIds), seq, from)).join()) {
                                int arrived = pulled.prefixLength();
                                while (good < arrived && verify(kvbm, pulled.pulled().get(good).blockId(),
                                        hashes[from + good], r, from + good, "prefill worker memory (UCX READ)",
                                        failures) == 1) {
                                    good++;
                                }
                                for (PullResult.Failure f : pulled.failures()) {
                                    if (f.changed()) {
                                        refused++;
                                    } else {
                                        failures.add("request " + r + " block " + (from + f.index()) + " (hash "
                                                + Long.toUnsignedString(f.sequenceHash()) + "): pull failed: "
                                                + f.cause());
                                    }
                                }
                            }
                            verified += good;
                            paths.merge("remote_read", (long) good, Long::sum);
                            if (good < remoteIds.length) { // the rest of the request is computed
                                next = from + good;
                                break;
                            }
                        }
                        if (next < hashes.length) {
                            int compute = hashes.length - next;
                            List<MutableBlock> blocks = withG1(kvbm, () -> kvbm.allocate(compute));
                            for (int k = 0; k < blocks.size(); k++) {
                                writeKv(kvbm.layout(Tier.G1), blocks.get(k).blockId(), hashes[next + k]);
                                blocks.get(k).complete(seq, next + k);
                            }
                            paths.merge("computed", (long) blocks.size(), Long::sum);
                            KvBlockManager.release(kvbm.register(blocks));
                        }
                    }
                    say("REQ " + r++);
                }
                kvbm.offloadsIdle().join();
            }
        }
        if (events != null) {
            feed.close();
            index.close();
            events.close();
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        long blockBytes = DemoContent.SHAPE.blockBytes();
        ObjectNode summary = JSON.createObjectNode();
        summary.put("requests", prompts.size());
        summary.put("blocks", blocksAsked);
        long reusedBlocks = blocksAsked - paths.get("computed");
        summary.put("prefix_hit_rate", blocksAsked == 0 ? 0 : (double) reusedBlocks / blocksAsked);
        ObjectNode p = summary.putObject("paths");
        for (String k : List.of("g1_hit", "onboard_g2", "onboard_g3", "remote_read", "computed")) {
            ObjectNode o = p.putObject(k);
            o.put("blocks", paths.get(k));
            o.put("bytes", paths.get(k) * blockBytes);
        }
        summary.put("verified_blocks", verified);
        summary.put("remote_refused", refused);
        summary.put("seconds", seconds);
        summary.put("moved_bytes_per_second", (reusedBlocks - paths.get("g1_hit")) * blockBytes / seconds);
        if (index != null) {
            ObjectNode ix = summary.putObject("kv_index");
            ix.put("queries", indexQueries);
            ix.put("agreed", indexAgreed);
            ix.put("snapshots", index.snapshotsApplied());
        }
        ArrayNode f = summary.putArray("failures");
        failures.forEach(f::add);
        say("SUMMARY " + JSON.writeValueAsString(summary));
        return failures.isEmpty() ? 0 : 1;
    }

    /** Waits until the index knows the prefill worker and is not waiting for its snapshot. */
    private static void awaitIndex(dev.kvbm.manager.events.KvIndexer index) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            Boolean stale = index.workers().get(PREFILL_ID);
            if (stale != null && !stale) {
                return;
            }
            Thread.sleep(50);
        }
        throw new IllegalStateException("the KV index did not catch up with the prefill worker's events within 30 s");
    }

    private static Discovery.WorkerEntry awaitPrefill(Discovery registry) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            for (Discovery.WorkerEntry e : registry.workers()) {
                if (e.workerId() == PREFILL_ID) {
                    return e;
                }
            }
            Thread.sleep(100);
        }
        throw new IllegalStateException("no prefill worker registered in the discovery registry within 60 s");
    }

    /** Checks every byte of a G1 block; returns 1 when right, else records the failure naming the block. */
    private static int verify(KvBlockManager kvbm, int blockId, long hash, int request, int index, String from,
                              List<String> failures) {
        for (int layer = 0; layer < DemoContent.SHAPE.numLayers(); layer++) {
            for (int outer = 0; outer < DemoContent.SHAPE.outerDim(); outer++) {
                long bad = DemoContent.check(kvbm.layout(Tier.G1).segment(blockId, layer, outer), hash, layer, outer);
                if (bad >= 0) {
                    failures.add("request " + request + " block " + index + " (hash " + Long.toUnsignedString(hash)
                            + ", from " + from + "): byte " + bad + " of layer " + layer + (outer == 0 ? " K" : " V")
                            + " differs from what its tokens give");
                    return 0;
                }
            }
        }
        return 1;
    }
}
