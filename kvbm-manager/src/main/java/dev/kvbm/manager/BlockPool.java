package dev.kvbm.manager;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;


/**
 * The blocks of one tier, by block id {@code 0..numBlocks-1} (the ids of the tier's layout), and what they hold.
 *
 * <p>A request {@link #allocate}s {@link MutableBlock}s, fills them with tokens (Reset → Partial → Complete) and
 * writes their KV, then {@link #register}s them: each becomes an {@link ImmutableBlock} named by its sequence hash
 * and shared, reference-counted, by every request that {@link #match}es that hash. A block whose last holder lets
 * go goes to the <em>inactive</em> pool: it keeps its contents, so a later request with the same prefix revives it
 * instead of recomputing it, until allocation needs the space and evicts it.
 *
 * <p>Eviction order, when {@code allocate} needs more than the free (never or no longer registered) blocks: free
 * blocks first; then inactive blocks none of whose children (blocks registered with this block's sequence hash as
 * their parent) is resident, lowest priority first, then least recently released; a parent only after its resident
 * children, unless nothing else is left — and then the deepest such parent (the one furthest into its sequence),
 * never a root first, so that when every inactive block is an ancestor of a held one the longest prefixes stay
 * matchable. {@link #touch} makes inactive blocks recently used again.
 *
 * <p>Duplicates: registering a block whose sequence hash is already registered either hands back the existing
 * block (the new one is reset and freed: {@link Duplicates#REFUSE}, the default) or keeps the new one as a
 * private duplicate that {@code match} never returns and that is freed when released ({@link Duplicates#ALLOW}).
 *
 * <p>Thread-safe; one lock, held for work proportional to the blocks asked (a hash-table probe and a few list
 * links per block), never for a scan of the pool. Amortised: an eviction also clears from the front of the eviction
 * order the blocks that were revived while still there (a revive leaves its block in place, so a match writes no
 * list), and each revived block is cleared at most once.
 */
public final class BlockPool implements AutoCloseable {

    /** What {@link #register} does with a block whose sequence hash is already registered. */
    public enum Duplicates {
        /** Hand back the registered block; the new one is reset and freed. */
        REFUSE,
        /** Keep the new block as a private duplicate (never matched, freed when released). */
        ALLOW
    }

    /** Where a block is in its life. */
    public enum State {
        /** Free: holds nothing. */
        RESET,
        /** Allocated, holding fewer tokens than a page. */
        PARTIAL,
        /** Allocated, holding a whole page of tokens and their hashes: ready to register. */
        COMPLETE,
        /** Registered: shared and matchable (or a private duplicate). */
        REGISTERED
    }

    /**
     * A snapshot of where the blocks are, and of matches: {@code matchedBlocks} counts the blocks this pool handed to
     * matches (its own {@link #match} and a manager's match across tiers alike); {@code missedBlocks} the hashes a
     * match asked of this pool that it did not have — for a manager's match, the hashes no tier had, counted by the
     * first tier's pool.
     */
    public record Stats(int total, int free, int active, int inactive, long matchedBlocks, long missedBlocks) {
    }

    private final String name;
    private final int pageSize;
    private final BlockEvents events;
    private final List<BlockEvent> pendingEvents = new ArrayList<>(); // guarded by lock
    private final Duplicates duplicates;
    private final Slot[] slots;
    /**
     * Token storage: each block's page is a stretch of a chunk shared with its neighbours (a page of 16 tokens is one
     * cache line, where an array of its own would add a header and a pointer to chase), a chunk allocated when one of
     * its blocks is first handed out. Guarded by the lock.
     */
    private final int[][] tokenChunks;
    private final int chunkShift; // blocks per chunk = 1 << chunkShift
    private final ReentrantLock lock = new ReentrantLock();
    private final ArrayDeque<Slot> free = new ArrayDeque<>();
    /** Registered (matchable) blocks by sequence hash. */
    private final RefTable<Slot> registry; // sequence hash -> registered block
    /** Resident children of parent hashes that are not registered here, so a parent arriving later knows them. */
    private final LongTable orphanChildren; // parent hash -> resident children
    private final Inactive inactive = new Inactive();
    /**
     * Blocks being written down into this tier ({@link #allocateBelow}): handed out, filled with what they will hold,
     * not registered yet. A later write's chain is followed through them, so their registered ancestors are not
     * evicted while their bytes are on the way.
     */
    private final HashMap<Long, Slot> incoming = new HashMap<>(); // guarded by lock
    private long tick;
    private long registerMark; // guarded by lock
    private int active;
    private volatile Consumer<List<BlockMeta>> evictionListener; // set once by the manager before use
    private BlockStates states; // null unless peers may read blocks without holding them; set before use
    private final AtomicLong matched = new AtomicLong();
    private final AtomicLong missed = new AtomicLong();

    private BlockPool(String name, int numBlocks, int pageSize, Duplicates duplicates) {
        this.name = name;
        this.pageSize = pageSize;
        this.duplicates = duplicates;
        this.events = new BlockEvents(name, 1024);
        this.slots = new Slot[numBlocks];
        // About 64 K tokens (256 KiB) a chunk, a power of two blocks, at least one.
        this.chunkShift = 31 - Integer.numberOfLeadingZeros(Math.max(1, 65536 / pageSize));
        this.tokenChunks = new int[((numBlocks - 1) >>> chunkShift) + 1][];
        this.registry = new RefTable<>(numBlocks, 4); // every eviction removes a hash: a sparse table shifts less
        this.orphanChildren = new LongTable(16); // grows when a workload orphans many children at once
        for (int i = 0; i < numBlocks; i++) {
            slots[i] = new Slot(this, i);
            free.add(slots[i]);
        }
    }

    /**
     * A pool over block ids {@code 0..numBlocks-1}.
     *
     * @param name       names the pool (its tier) in messages, e.g. {@code "G2 host"}
     * @param numBlocks  blocks, at least 1
     * @param pageSize   tokens per block, at least 1
     * @param duplicates what registering an already registered hash does
     * @return the pool, every block free
     */
    public static BlockPool create(String name, int numBlocks, int pageSize, Duplicates duplicates) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(duplicates, "duplicates");
        if (numBlocks < 1 || pageSize < 1) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "a pool needs numBlocks >= 1 and pageSize >= 1, got %d and %d", numBlocks, pageSize));
        }
        return new BlockPool(name, numBlocks, pageSize, duplicates);
    }

    /** Ends the event stream (subscribers are completed); the pool's blocks stay usable. Idempotent. */
    @Override
    public void close() {
        events.close();
    }

    /** {@return the pool's name: its tier, as events and messages name it} */
    public String name() {
        return name;
    }

    /** {@return this pool's store and remove events} */
    public BlockEvents events() {
        return events;
    }

    /** {@return tokens per block} */
    public int pageSize() {
        return pageSize;
    }

    /**
     * Hands out {@code n} empty blocks: free ones first, then evicted inactive ones.
     *
     * @param n blocks wanted, at least 0
     * @return the blocks, in state {@link State#RESET}
     * @throws NotEnoughBlocksException when fewer than {@code n} blocks are free or evictable; nothing is taken
     */
    public List<MutableBlock> allocate(int n) {
        if (n < 0) {
            throw new IllegalArgumentException("cannot allocate " + n + " blocks");
        }
        if (n > slots.length) { // before anything is sized for n: no pool holds more than its blocks
            Stats now = stats();
            throw new NotEnoughBlocksException(name, n, now.free() + now.inactive());
        }
        return take(new int[] {n}, false, null, null, null).runs().getFirst();
    }

    /**
     * Blocks for prefix runs being written down into this tier ({@link #allocateBelow}): {@code runs.get(r)} holds
     * the blocks run {@code r} got, for its first blocks, already filled with what they will hold; {@code held} the
     * shares that keep each run's resident ancestors here, which the caller releases ({@link #release(List)}) once
     * the new blocks are registered or closed.
     */
    record PrefixAllocation(List<List<MutableBlock>> runs, List<ImmutableBlock> held) {
    }

    /**
     * Hands out blocks for copies of prefix runs written down into this tier: run {@code r} is consecutive blocks of
     * one sequence, a parent before its child. Each run's parent and its ancestors here — registered, or on their
     * way ({@link #isIncoming}) — are held first, so that no allocation evicts them (that would leave what is
     * written unreachable from the head of its prefix); then each run in order gets free blocks, then inactive
     * ones, from its head, until there is no more room: the caller drops the tails that got none. Room only shrinks
     * within a call, so once a run is cut short every later run gets none: a run whose parent is a block of this
     * call never gets blocks when its parent did not. The blocks handed out are filled with their runs' identities
     * and count as on their way until registered or closed.
     *
     * @param runs the blocks to be written, as their identities in the tier they come from
     * @return the blocks of each run and the shares holding their ancestors
     */
    PrefixAllocation allocateBelow(List<List<BlockMeta>> runs) {
        int[] counts = new int[runs.size()];
        boolean[] hasParent = new boolean[runs.size()];
        long[] parents = new long[runs.size()];
        for (int r = 0; r < counts.length; r++) {
            counts[r] = runs.get(r).size();
            hasParent[r] = counts[r] > 0 && runs.get(r).getFirst().hasParent();
            parents[r] = hasParent[r] ? runs.get(r).getFirst().parentHash() : 0;
        }
        return take(counts, true, hasParent, parents, runs);
    }

    /** {@return true when a block of this hash is being written down into this tier: handed out, not registered} */
    boolean isIncoming(long sequenceHash) {
        lock.lock();
        try {
            return incoming.containsKey(sequenceHash);
        } finally {
            lock.unlock();
        }
    }

    private PrefixAllocation take(int[] counts, boolean upTo, boolean[] hasParent, long[] parentHashes,
                                  List<List<BlockMeta>> fillWith) {
        List<BlockMeta> evicted = null;
        Consumer<List<BlockMeta>> listener = evictionListener;
        List<List<MutableBlock>> runs = new ArrayList<>(counts.length);
        List<ImmutableBlock> held = List.of();
        lock.lock();
        try {
            if (hasParent != null) {
                held = new ArrayList<>();
                for (int r = 0; r < counts.length; r++) {
                    if (hasParent[r]) {
                        holdChain(parentHashes[r], held);
                    }
                }
            }
            for (int r = 0; r < counts.length; r++) {
                int n = counts[r];
                int available = free.size() + inactive.size();
                if (n > available) {
                    if (!upTo) {
                        throw new NotEnoughBlocksException(name, n, available);
                    }
                    n = available;
                }
                List<MutableBlock> out = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    Slot s = free.pollFirst();
                    if (s == null) {
                        if (listener != null) {
                            if (evicted == null) {
                                evicted = new ArrayList<>();
                            }
                            evicted.add(metaOf(inactive.first()));
                        }
                        s = evict();
                    }
                    s.state = State.RESET;
                    s.tokenCount = 0;
                    if (s.tokens == null) {
                        assignPage(s);
                    }
                    active++;
                    MutableBlock m = new MutableBlock(this, s);
                    if (fillWith != null) {
                        m.fill(fillWith.get(r).get(i));
                        s.incoming = incoming.putIfAbsent(s.sequenceHash, s) == null;
                    }
                    out.add(m);
                }
                runs.add(out);
            }
            flushEvents();
        } finally {
            lock.unlock();
        }
        if (evicted != null) {
            // Outside the lock, before the caller can write into the blocks: the evicted contents are still there.
            try {
                listener.accept(evicted);
            } catch (RuntimeException e) {
                System.getLogger(BlockPool.class.getName()).log(System.Logger.Level.WARNING,
                        "the eviction listener of pool " + name + " failed; the evicted blocks are lost", e);
            }
        }
        return new PrefixAllocation(runs, held);
    }

    /**
     * Takes a share of the block registered under {@code tip} and of each of its resident ancestors, root first
     * into {@code into} (so that releasing the list, last to first, lets go of the tip first); the caller holds the
     * lock. A block on its way here is followed to its parent (it cannot be evicted anyway); the walk stops at the
     * first ancestor neither resident nor on its way.
     */
    private void holdChain(long tip, List<ImmutableBlock> into) {
        List<ImmutableBlock> chain = new ArrayList<>();
        long hash = tip;
        for (int steps = 0; steps < slots.length; steps++) { // bounded even if colliding hashes made a cycle
            Slot s = registered(hash);
            if (s != null) {
                chain.add(acquire(s));
            } else {
                s = incoming.get(hash);
                if (s == null) {
                    break;
                }
            }
            if (!s.hasParent) {
                break;
            }
            hash = s.parentHash;
        }
        into.addAll(chain.reversed());
    }

    /** The block is no longer on its way here (registered, or closed); the caller holds the lock. */
    private void arrived(Slot s) {
        if (s.incoming) {
            incoming.remove(s.sequenceHash, s);
            s.incoming = false;
        }
    }

    /**
     * Sets what is told about registered blocks evicted by {@code allocate}: called on the allocating thread, after
     * the pool's lock is released and before {@code allocate} returns, while the evicted blocks still hold their
     * contents (the manager writes them back to the next tier).
     */
    void onEviction(Consumer<List<BlockMeta>> listener) {
        this.evictionListener = listener;
    }

    /**
     * Keeps {@code table} up to date with what each block holds, for peers that read blocks without holding them:
     * a block is marked when eviction takes it back and again when it is registered. Set once, before the pool is
     * used.
     */
    void trackStates(BlockStates table) {
        if (table.blocks() != slots.length) {
            throw new IllegalArgumentException("a table of " + table.blocks() + " block states for pool " + name
                    + " of " + slots.length + " blocks");
        }
        this.states = table;
    }

    /** Gives a block its page of token storage, allocating the page's chunk first if need be; under the lock. */
    private void assignPage(Slot s) {
        int chunk = s.id >>> chunkShift;
        int[] tokens = tokenChunks[chunk];
        if (tokens == null) {
            int first = chunk << chunkShift;
            int blocks = Math.min(1 << chunkShift, slots.length - first);
            tokens = new int[blocks * pageSize];
            tokenChunks[chunk] = tokens;
        }
        s.tokenBase = (s.id - (chunk << chunkShift)) * pageSize;
        s.tokens = tokens; // last: a block with tokens != null has its base set
    }

    /** A snapshot of a registered slot's identity; the caller holds the lock. */
    private static BlockMeta metaOf(Slot s) {
        return new BlockMeta(s.id, s.sequenceHash, s.blockHash, s.hasParent, s.parentHash, s.position,
                copyTokens(s));
    }

    /** {@return what a held block is registered as} */
    BlockMeta meta(Slot s) {
        lock.lock();
        try {
            return metaOf(s);
        } finally {
            lock.unlock();
        }
    }

    /** Takes the first inactive block in eviction order out of the registry; the caller holds the lock. */
    private Slot evict() {
        Slot s = inactive.first();
        inactive.unlink(s);
        registry.remove(s.sequenceHash);
        if (states != null) {
            states.unstable(s.id); // before the block is handed out, and so before any byte of it changes
        }
        if (events.hasSubscribers()) {
            pendingEvents.add(new BlockEvent.Removed(name, s.sequenceHash));
        }
        if (s.children > 0) { // only when nothing else was left: its children stay, and will find it again
            orphanChildren.add(s.sequenceHash, s.children);
        }
        if (s.hasParent) {
            childLeft(s);
        }
        s.clear();
        return s;
    }

    /**
     * Registers a complete block under its sequence hash.
     *
     * @param block a block of this pool in state {@link State#COMPLETE}; the handle is consumed (closed)
     * @return the shared block: this one, or the one already registered under that hash
     * @throws IllegalStateException when the block is not complete or its handle was closed
     */
    public ImmutableBlock register(MutableBlock block) {
        Objects.requireNonNull(block, "block");
        lock.lock();
        try {
            block.checkRegistrable(this);
            ImmutableBlock registered = registerOne(block);
            flushEvents();
            return registered;
        } finally {
            lock.unlock();
        }
    }

    /** Registers a block already checked by {@link MutableBlock#checkRegistrable}; the caller holds the lock. */
    private ImmutableBlock registerOne(MutableBlock block) {
        Slot s = block.consumeLocked();
        arrived(s);
        Slot existing = registry.putIfAbsent(s.sequenceHash, s); // one probe: look up, and claim if absent
        if (existing != null) {
            if (duplicates == Duplicates.REFUSE) {
                active--;
                s.clear();
                free.addFirst(s);
                return acquire(existing);
            }
            s.duplicate = true; // private: never in the registry, freed when released
            s.state = State.REGISTERED;
            s.refCount = 1;
            return new ImmutableBlock(s);
        }
        s.state = State.REGISTERED;
        s.refCount = 1;
        if (states != null) {
            states.stable(s.id, s.sequenceHash);
        }
        if (events.hasSubscribers()) {
            pendingEvents.add(new BlockEvent.Stored(name, s.sequenceHash, s.blockHash, s.hasParent
                    ? java.util.OptionalLong.of(s.parentHash) : java.util.OptionalLong.empty(), s.tokenCount));
        }
        s.children = orphanChildren.size() == 0 ? 0 : orphanChildren.remove(s.sequenceHash);
        if (s.hasParent) {
            childArrived(s);
        }
        return new ImmutableBlock(s);
    }

    /**
     * Registers several complete blocks, in order.
     *
     * @param blocks blocks of this pool in state {@link State#COMPLETE}; their handles are consumed
     * @return the shared blocks, in the same order
     */
    public List<ImmutableBlock> register(List<MutableBlock> blocks) {
        Objects.requireNonNull(blocks, "blocks");
        lock.lock();
        try {
            // All or nothing: a bad block found halfway would leave the ones before it registered, held by
            // handles the caller never receives.
            long mark = ++registerMark; // an open handle owns its slot alone: a slot seen twice is a handle twice
            for (int i = 0; i < blocks.size(); i++) {
                MutableBlock b = Objects.requireNonNull(blocks.get(i), "a block in the list");
                b.checkRegistrable(this);
                if (b.slot().registerMark == mark) {
                    throw new IllegalArgumentException("block " + b.blockId() + " appears twice in the list");
                }
                b.slot().registerMark = mark;
            }
            List<ImmutableBlock> out = new ArrayList<>(blocks.size());
            Slot previous = null;
            for (int i = 0; i < blocks.size(); i++) {
                MutableBlock b = blocks.get(i);
                if (previous != null) {
                    b.slot().parent = previous; // a hint: the block before is usually the parent (checked on use)
                }
                ImmutableBlock registered = registerOne(b);
                out.add(registered);
                previous = registered.slot();
            }
            flushEvents();
            return out;
        } finally {
            lock.unlock();
        }
    }

    /** Publishes the events of the operation that just ran, as one batch; the caller holds the lock. */
    private void flushEvents() {
        if (!pendingEvents.isEmpty()) {
            events.publish(pendingEvents);
            pendingEvents.clear();
        }
    }

    /**
     * The longest prefix of {@code sequenceHashes} that is registered here, as shared blocks: the match stops at
     * the first hash that is not. Inactive blocks are revived.
     *
     * @param sequenceHashes a request's sequence hashes, in order
     * @return one block per matched hash, in order; each is released with {@link ImmutableBlock#close()}
     */
    public List<ImmutableBlock> match(long[] sequenceHashes) {
        Objects.requireNonNull(sequenceHashes, "sequenceHashes");
        List<ImmutableBlock> out = match(sequenceHashes, 0);
        matched.addAndGet(out.size());
        missed.addAndGet(sequenceHashes.length - out.size());
        return out;
    }

    /** Counts a manager's match: {@code hits} blocks this pool handed out, {@code misses} hashes no tier had. */
    void countMatch(long hits, long misses) {
        if (hits != 0) {
            matched.addAndGet(hits);
        }
        if (misses != 0) {
            missed.addAndGet(misses);
        }
    }

    /** {@link #match} from {@code from} on, without counting hits and misses (the caller counts them). */
    List<ImmutableBlock> match(long[] sequenceHashes, int from) {
        lock.lock();
        try {
            List<ImmutableBlock> out = new ArrayList<>(Math.min(Math.max(sequenceHashes.length - from, 0), 256));
            for (int i = from; i < sequenceHashes.length; i++) {
                Slot s = registered(sequenceHashes[i]);
                if (s == null) {
                    break;
                }
                out.add(acquire(s));
            }
            return out;
        } finally {
            lock.unlock();
        }
    }

    /** {@return a new share of the block registered under {@code hash}, if there is one; not counted as a match} */
    ImmutableBlock acquireRegistered(long hash) {
        lock.lock();
        try {
            Slot s = registered(hash);
            return s == null ? null : acquire(s);
        } finally {
            lock.unlock();
        }
    }

    /** {@return another share of a block this pool handed out; {@code block} must still be held} */
    ImmutableBlock share(ImmutableBlock block, Slot s) {
        lock.lock();
        try {
            block.ensureOpen(s.id);
            return acquire(s);
        } finally {
            lock.unlock();
        }
    }

    /** A new holder of a registered block; the caller holds the lock. */
    private ImmutableBlock acquire(Slot s) {
        if (s.refCount == 0) {
            inactive.revive(s);
            active++;
        }
        s.refCount++;
        return new ImmutableBlock(s);
    }

    /**
     * Makes the inactive blocks registered under these hashes the most recently used: among the blocks of their
     * priority that are equally evictable they go last. Eviction still takes leaves (blocks with no resident child)
     * before parents, so a touched parent of an untouched leaf still outlives it; touch a whole prefix to keep it.
     *
     * @param sequenceHashes hashes of registered blocks; others are ignored
     */
    public void touch(long[] sequenceHashes) {
        Objects.requireNonNull(sequenceHashes, "sequenceHashes");
        lock.lock();
        try {
            for (long hash : sequenceHashes) {
                Slot s = registered(hash);
                if (s != null && s.refCount == 0) {
                    inactive.unlink(s);
                    s.releasedTick = ++tick;
                    inactive.link(s);
                }
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * How many leading hashes of {@code sequenceHashes} are registered here now, without matching, reviving or
     * touching anything (what a KV-aware router's index should answer for this pool).
     *
     * @param sequenceHashes a sequence's hashes, first block first
     * @return the length of the registered prefix
     */
    public int registeredPrefixLength(long[] sequenceHashes) {
        Objects.requireNonNull(sequenceHashes, "sequenceHashes");
        lock.lock();
        try {
            int n = 0;
            while (n < sequenceHashes.length && registered(sequenceHashes[n]) != null) {
                n++;
            }
            return n;
        } finally {
            lock.unlock();
        }
    }

    /**
     * A registered block as a snapshot lists it.
     *
     * @param blockId      its block id in this pool (its place in the tier's layout)
     * @param sequenceHash its sequence hash
     * @param blockHash    the hash of its tokens alone
     * @param parentHash   its parent's sequence hash, empty for a first block
     */
    public record RegisteredBlock(int blockId, long sequenceHash, long blockHash, java.util.OptionalLong parentHash) {
    }

    /**
     * Every block registered now (in use or inactive), taken under the pool's lock together with {@code during},
     * which runs under the same lock (a publisher reads its last event id there, so the snapshot and the id agree).
     * Costs O(pool size): for resynchronising an index, not for the hot path.
     *
     * @param during runs under the lock, after the blocks were read; may be null
     * @return the registered blocks, in no particular order
     */
    public List<RegisteredBlock> registeredBlocks(Runnable during) {
        lock.lock();
        try {
            List<RegisteredBlock> out = new ArrayList<>();
            for (Slot s : slots) {
                if (s.state == State.REGISTERED && !s.duplicate) {
                    out.add(new RegisteredBlock(s.id, s.sequenceHash, s.blockHash, s.hasParent
                            ? java.util.OptionalLong.of(s.parentHash) : java.util.OptionalLong.empty()));
                }
            }
            if (during != null) {
                during.run();
            }
            return out;
        } finally {
            lock.unlock();
        }
    }

    /** {@return a snapshot of the pool's counts} */
    public Stats stats() {
        lock.lock();
        try {
            return new Stats(slots.length, free.size(), active, inactive.size(), matched.get(), missed.get());
        } finally {
            lock.unlock();
        }
    }

    /** {@return true when a block is registered (and matchable) under {@code sequenceHash}} */
    boolean isRegistered(long sequenceHash) {
        lock.lock();
        try {
            return registry.get(sequenceHash) != null;
        } finally {
            lock.unlock();
        }
    }

    /** {@return the block registered under {@code hash}, or null} */
    private Slot registered(long hash) {
        return registry.get(hash);
    }

    /**
     * The block registered under {@code s}'s parent hash, or null: from the slot's remembered parent when that slot
     * still is the registered block of that hash (a non-duplicate registered slot is the registry's entry for its
     * hash), else from the registry, remembered for next time.
     */
    private Slot parentOf(Slot s) {
        Slot p = s.parent;
        if (p != null && p.state == State.REGISTERED && !p.duplicate && p.sequenceHash == s.parentHash) {
            return p;
        }
        p = registered(s.parentHash);
        s.parent = p;
        return p;
    }

    private void childArrived(Slot child) {
        Slot parent = parentOf(child);
        if (parent == null) {
            orphanChildren.add(child.parentHash, 1);
        } else {
            parent.children++; // an inactive parent stays where it is: eviction finds it out at the front
        }
    }

    private void childLeft(Slot child) {
        Slot parent = parentOf(child);
        if (parent == null) {
            orphanChildren.add(child.parentHash, -1);
        } else if (--parent.children == 0 && parent.refCount == 0) {
            inactive.leafAgain(parent);
        }
    }

    // Called by the handles.

    void releaseMutable(MutableBlock block) {
        lock.lock();
        try {
            if (block.closeLocked()) {
                Slot s = block.slot();
                arrived(s);
                active--;
                s.clear();
                free.addFirst(s);
            }
        } finally {
            lock.unlock();
        }
    }

    void releaseImmutable(ImmutableBlock block) {
        lock.lock();
        try {
            if (block.closeLocked()) {
                releaseLocked(block.slot(), block.releasePriority());
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Releases many holders' shares under one lock: what a request does with its blocks when it ends. Handles
     * already closed are skipped, as {@link ImmutableBlock#close()} would. The list counts as released from its
     * last block to its first: a request's blocks are its sequence, so among blocks that end up equally evictable
     * its tail goes before its head (as the rule of children before parents has it anyway), and the pool evicts
     * the chain without reordering it.
     *
     * @param blocks shared blocks of this pool
     * @throws IllegalArgumentException when a block belongs to another pool; nothing is released then
     */
    public void release(List<ImmutableBlock> blocks) {
        Objects.requireNonNull(blocks, "blocks");
        for (int i = 0; i < blocks.size(); i++) {
            ImmutableBlock b = Objects.requireNonNull(blocks.get(i), "a block in the list");
            if (b.pool() != this) {
                throw new IllegalArgumentException(b + " belongs to pool " + b.pool().name() + ", not " + name);
            }
        }
        lock.lock();
        try {
            for (int i = blocks.size() - 1; i >= 0; i--) {
                ImmutableBlock b = blocks.get(i);
                if (b.closeLocked()) {
                    releaseLocked(b.slot(), b.releasePriority());
                }
            }
        } finally {
            lock.unlock();
        }
    }

    private void releaseLocked(Slot s, int priority) {
        if (s.refCount <= 0) {
            throw new IllegalStateException("block " + s.id + " released more often than it was acquired");
        }
        s.priority = Math.min(s.priority, priority);
        if (--s.refCount > 0) {
            return;
        }
        active--;
        if (s.duplicate) {
            s.clear();
            free.addFirst(s);
            return;
        }
        s.releasedTick = ++tick;
        inactive.link(s);
    }


    /** One block's state; guarded by the pool's lock. */
    static final class Slot {
        final BlockPool pool;
        final int id;
        State state = State.RESET;
        /** The chunk holding this block's page (null until first allocated), at {@link #tokenBase}. */
        int[] tokens;
        int tokenBase;
        int tokenCount;
        long sequenceHash;
        long blockHash;
        long parentHash;
        boolean hasParent;
        /** The block's index in its sequence: how deep in its prefix it is. */
        int position;
        /** Handed out by {@link #allocateBelow} and not yet registered or closed: in {@code incoming}. */
        boolean incoming;
        int refCount;
        int priority = Integer.MAX_VALUE;
        long releasedTick;
        boolean duplicate;
        long registerMark;
        /** Resident registered blocks whose parent is this block; a block without any is a leaf. */
        int children;
        /** The registered parent when last looked up: a hint, valid while that slot holds the parent hash. */
        Slot parent;
        Slot prev;
        Slot next;
        Inactive.Bucket bucket;

        Slot(BlockPool pool, int id) {
            this.pool = pool;
            this.id = id;
        }

        void clear() {
            state = State.RESET;
            tokenCount = 0;
            sequenceHash = 0;
            blockHash = 0;
            parentHash = 0;
            hasParent = false;
            position = 0;
            refCount = 0;
            priority = Integer.MAX_VALUE;
            duplicate = false;
            children = 0;
            parent = null;
        }
    }

    /**
     * Guards a handle against use after close and against closing twice. A handle is closed only under its pool's
     * lock, so closing needs no atomic instruction; the flag is volatile so that other threads see it.
     */
    abstract static class Handle implements AutoCloseable {
        private static final java.lang.invoke.VarHandle CLOSED;

        static {
            try {
                CLOSED = java.lang.invoke.MethodHandles.lookup().findVarHandle(Handle.class, "closed", boolean.class);
            } catch (ReflectiveOperationException e) {
                throw new ExceptionInInitializerError(e);
            }
        }

        private volatile boolean closed;

        /** {@return true for the one caller that closes this handle}; the caller holds the pool's lock */
        final boolean closeLocked() {
            if (closed) {
                return false;
            }
            CLOSED.setRelease(this, true);
            return true;
        }

        final boolean isClosed() {
            return closed;
        }

        void ensureOpen(int blockId) {
            if (closed) {
                throw new IllegalStateException("block " + blockId
                        + " was released; a handle is used until it is closed");
            }
        }
    }

    @Override
    public String toString() {
        Stats s = stats();
        return String.format(Locale.ROOT, "BlockPool[%s: %d blocks, %d free, %d active, %d inactive]", name, s.total(),
                s.free(), s.active(), s.inactive());
    }

    /** Replaces the tokens of an allocated block (one that has its page) with {@code tokens}, at most a page. */
    static void setTokens(Slot s, int[] tokens) {
        System.arraycopy(tokens, 0, s.tokens, s.tokenBase, tokens.length);
        s.tokenCount = tokens.length;
    }

    /** {@return a copy of the tokens a block holds} */
    static int[] copyTokens(Slot s) {
        return s.tokens == null ? new int[0] : Arrays.copyOfRange(s.tokens, s.tokenBase, s.tokenBase + s.tokenCount);
    }
}
