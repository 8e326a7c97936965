package dev.kvbm.manager;

import dev.kvbm.transport.LayoutHandle;

import java.util.Arrays;
import java.util.Objects;

/**
 * Blocks of another worker, as Dynamo's descriptor lists name them: the worker, its block set (a layout it
 * exported, by handle) and block ids in it. A peer sends these (e.g. the prefill worker telling the decode worker
 * where a request's KV is) and {@link KvBlockManager#pull} copies them into local blocks.
 *
 * @param blockSet the remote layout, imported with {@link KvBlockManager#importBlockSets}
 * @param blockIds block ids in it, none twice
 */
public record RemoteBlocks(LayoutHandle blockSet, int[] blockIds) {

    /** Checks the ids are non-negative and distinct, and copies them. */
    public RemoteBlocks {
        Objects.requireNonNull(blockSet, "blockSet");
        blockIds = Objects.requireNonNull(blockIds, "blockIds").clone();
        int[] sorted = blockIds.clone();
        Arrays.sort(sorted);
        for (int i = 0; i < sorted.length; i++) {
            if (sorted[i] < 0) {
                throw new IllegalArgumentException("block id " + sorted[i] + " is negative");
            }
            if (i > 0 && sorted[i] == sorted[i - 1]) {
                throw new IllegalArgumentException("block id " + sorted[i] + " appears twice");
            }
        }
    }

    /** {@return the worker that holds the blocks} */
    public long workerId() {
        return blockSet.workerId();
    }

    @Override
    public int[] blockIds() {
        return blockIds.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof RemoteBlocks r && r.blockSet.equals(blockSet) && Arrays.equals(r.blockIds, blockIds);
    }

    @Override
    public int hashCode() {
        return blockSet.hashCode() * 31 + Arrays.hashCode(blockIds);
    }

    @Override
    public String toString() {
        return "RemoteBlocks[" + blockSet + ", " + Arrays.toString(blockIds) + "]";
    }
}
