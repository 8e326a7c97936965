package dev.kvbm.manager;

import java.util.OptionalLong;

/**
 * What a KV-aware router needs to know about a tier's registered blocks, in Dynamo's terms: a block was stored
 * (registered under its sequence hash) or removed (evicted). Published in batches by {@link BlockEvents}.
 */
public sealed interface BlockEvent {

    /** {@return the tier the block lives in, e.g. {@code "G1"}} */
    String tier();

    /** {@return the block's sequence hash} */
    long sequenceHash();

    /**
     * A block was registered: it can be matched from now on.
     *
     * @param tier         the tier
     * @param sequenceHash the block's sequence hash
     * @param blockHash    the hash of its tokens alone (Dynamo's {@code tokens_hash})
     * @param parentHash   the sequence hash of the block before it, empty for a first block
     * @param tokenCount   the tokens it holds
     */
    record Stored(String tier, long sequenceHash, long blockHash, OptionalLong parentHash, int tokenCount)
            implements BlockEvent {
    }

    /**
     * A registered block was evicted: it can no longer be matched.
     *
     * @param tier         the tier
     * @param sequenceHash the block's sequence hash
     */
    record Removed(String tier, long sequenceHash) implements BlockEvent {
    }
}
