package dev.kvbm.manager;

import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * What {@link KvBlockManager#pull(RemoteBlocks, TokenBlockSequence, int)} brought into G1. A block is in
 * {@link #pulled()} only when its bytes are, as read, the KV of its sequence hash; it is registered in G1 and held
 * by this result. Every other block is in {@link #failures()} and was neither registered nor handed back, so the
 * engine recomputes exactly those.
 */
public final class PullResult implements AutoCloseable {

    /**
     * A block that did not arrive.
     *
     * @param index        its position among the pulled ids
     * @param sequenceHash the sequence hash it should have held
     * @param cause        a {@link RemoteBlockChangedException} when the peer no longer held it as expected, or
     *                     the copy's failure
     */
    public record Failure(int index, long sequenceHash, Throwable cause) {
        /** Checks the cause is there. */
        public Failure {
            Objects.requireNonNull(cause, "cause");
        }

        /** {@return whether the peer no longer held the block as expected (rather than a copy failing)} */
        public boolean changed() {
            return cause instanceof RemoteBlockChangedException;
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "block %d (hash %s): %s", index, Long.toUnsignedString(sequenceHash),
                    cause);
        }
    }

    private final List<ImmutableBlock> pulled;
    private final List<Integer> indices;
    private final List<Failure> failures;

    PullResult(List<ImmutableBlock> pulled, List<Integer> indices, List<Failure> failures) {
        this.pulled = List.copyOf(pulled);
        this.indices = List.copyOf(indices);
        this.failures = List.copyOf(failures);
    }

    /** {@return the G1 blocks that arrived, registered, in the order of the ids, skipping failures} */
    public List<ImmutableBlock> pulled() {
        return pulled;
    }

    /** {@return for each pulled block, its position among the ids} */
    public List<Integer> pulledIndices() {
        return indices;
    }

    /** {@return the blocks that did not arrive, in the order of the ids} */
    public List<Failure> failures() {
        return failures;
    }

    /** {@return how many blocks from the first id on arrived, up to the first failure} */
    public int prefixLength() {
        return failures.isEmpty() ? pulled.size() : failures.getFirst().index();
    }

    /** Releases every pulled block; idempotent. */
    @Override
    public void close() {
        KvBlockManager.release(pulled);
    }

    @Override
    public String toString() {
        return "PullResult[" + pulled.size() + " pulled, failures " + failures + "]";
    }
}
