package dev.kvbm.manager;

import java.util.List;

/**
 * The longest prefix of a request's blocks found in any tier, in order: each block is held (a share) until this
 * match is closed. Blocks in G1 can be used at once; the others are brought up with
 * {@link KvBlockManager#onboard(List)}.
 */
public final class PrefixMatch implements AutoCloseable {
    private final List<ImmutableBlock> blocks;

    PrefixMatch(List<ImmutableBlock> blocks) {
        this.blocks = List.copyOf(blocks);
    }

    /** {@return every matched block, in the order of the request's hashes} */
    public List<ImmutableBlock> blocks() {
        return blocks;
    }

    /** {@return the number of matched blocks: the prefix the engine need not recompute, once onboarded} */
    public int length() {
        return blocks.size();
    }

    /** {@return the matched blocks already in G1} */
    public List<ImmutableBlock> inFirstTier() {
        return blocks.stream().filter(b -> b.tier().equals(Tier.G1.name())).toList();
    }

    /** {@return the matched blocks in a lower tier (G2, G3), which need an onboard before use} */
    public List<ImmutableBlock> offloaded() {
        return blocks.stream().filter(b -> !b.tier().equals(Tier.G1.name())).toList();
    }

    /** Releases every matched block, one lock per tier; idempotent. */
    @Override
    public void close() {
        KvBlockManager.release(blocks);
    }


    @Override
    public String toString() {
        return "PrefixMatch[" + blocks.size() + " blocks, " + offloaded().size() + " offloaded]";
    }
}
