package dev.kvbm.manager.events;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.OptionalLong;

/**
 * One KV event of one worker, modelled on Dynamo's router events: the worker's id, an event id that increases by
 * one with every event the worker publishes (so a consumer sees a lost event as a gap), and what happened to the
 * worker's registered blocks: {@link Stored}, {@link Removed} or {@link Cleared}. Hashes are u64 values carried in
 * a {@code long}.
 *
 * <p>{@code instance} tells one run of a worker from the next (our addition to Dynamo's fields; 0 when a publisher
 * does not say): event ids start again at 1 when a worker restarts, and a late event of the previous run must not
 * be taken for part of the new one.
 *
 * @param workerId the publishing worker
 * @param instance the publisher's run, random per start (0: not given)
 * @param eventId  1 for a run's first event (a {@link Cleared}), then one more for each
 * @param data     what happened
 */
public record KvEvent(long workerId, long instance, long eventId, Data data) {

    /** Checks the fields. */
    public KvEvent {
        Objects.requireNonNull(data, "data");
        if (eventId == 0) {
            throw new IllegalArgumentException("event ids start at 1, got " + Long.toUnsignedString(eventId));
        }
    }

    /**
     * An event without an instance (as Dynamo's publishers send them).
     *
     * @param workerId the publishing worker
     * @param eventId  the event id
     * @param data     what happened
     */
    public KvEvent(long workerId, long eventId, Data data) {
        this(workerId, 0, eventId, data);
    }

    /** What an event says. */
    public sealed interface Data permits Stored, Removed, Cleared {
    }

    /**
     * Blocks were registered: a chain, each block's parent being the one before it, the first block's parent being
     * {@code parentHash}.
     *
     * @param parentHash the sequence hash of the first block's parent, empty when the chain starts a sequence
     * @param blocks     the blocks, at least one
     */
    public record Stored(OptionalLong parentHash, List<StoredBlock> blocks) implements Data {
        /** Checks and copies the list. */
        public Stored {
            Objects.requireNonNull(parentHash, "parentHash");
            blocks = List.copyOf(blocks);
            if (blocks.isEmpty()) {
                throw new IllegalArgumentException("a stored event needs at least one block");
            }
        }
    }

    /**
     * One stored block.
     *
     * @param sequenceHash its sequence hash (Dynamo's {@code block_hash})
     * @param blockHash    the hash of its tokens alone (Dynamo's {@code tokens_hash})
     */
    public record StoredBlock(long sequenceHash, long blockHash) {
    }

    /**
     * Registered blocks were evicted. With no hashes it changes nothing and only uses up its event id: a
     * {@link KvEventPublisher} sends one right after an id it skipped, so that consumers see the gap at once.
     *
     * @param sequenceHashes their sequence hashes, possibly none
     */
    public record Removed(long[] sequenceHashes) implements Data {
        /** Copies the hashes. */
        public Removed {
            sequenceHashes = sequenceHashes.clone();
        }

        @Override
        public long[] sequenceHashes() {
            return sequenceHashes.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Removed r && Arrays.equals(r.sequenceHashes, sequenceHashes);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(sequenceHashes);
        }

        @Override
        public String toString() {
            return "Removed" + Arrays.toString(sequenceHashes);
        }
    }

    /** Every block the worker had registered is gone (it started, or restarted). */
    public record Cleared() implements Data {
    }
}
