package dev.kvbm.manager;

import dev.kvbm.api.BlockDimension;
import dev.kvbm.api.StorageKind;

import java.nio.file.Path;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;

/**
 * How big one tier is and how it is laid out: a block count or a byte budget (whole blocks that fit), a layout
 * type, and optionally the storage kind (otherwise the manager picks: G1 on a GPU when one is available, else host
 * memory; G2 pinned when available, else system; G3 disk), optionally the storage provider by name (otherwise the
 * manager picks: for host memory of a manager on the {@code ucx} agent, {@code ucx-host}, which a peer process on
 * the same host maps instead of copying; else the first provider of the kind) and, for G3, the directory of its
 * files.
 *
 * @param blocks         blocks in the tier, or 0 when a byte budget is given
 * @param bytes          the byte budget, or 0 when a block count is given
 * @param layout         how the tier's memory is laid out
 * @param blockDimension where the block index sits in a LayerSeparate layout
 * @param storage        the storage kind, or empty for the manager's choice
 * @param directory      where disk-tier files go, or empty for the disk provider's default
 * @param provider       the storage provider's name (e.g. {@code system-memory}, {@code ucx-host}), or empty for
 *                       the manager's choice
 */
public record TierSpec(long blocks, long bytes, LayoutType layout, BlockDimension blockDimension,
                       Optional<StorageKind> storage, Optional<Path> directory, Optional<String> provider) {

    /** How a tier's memory is laid out. */
    public enum LayoutType {
        /** One range per block (all layers of a block adjacent): few, large copies. */
        FULLY_CONTIGUOUS,
        /** One range per layer, as engines that keep a tensor per layer allocate their KV cache. */
        LAYER_SEPARATE
    }

    /** Checks that exactly one of the count and the budget is given, and positive. */
    public TierSpec {
        Objects.requireNonNull(layout, "layout");
        Objects.requireNonNull(blockDimension, "blockDimension");
        Objects.requireNonNull(storage, "storage");
        Objects.requireNonNull(directory, "directory");
        Objects.requireNonNull(provider, "provider");
        if ((blocks > 0) == (bytes > 0) || blocks < 0 || bytes < 0) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "a tier takes either a block count or a byte budget, both positive; got blocks=%d, bytes=%d",
                    blocks, bytes));
        }
    }

    /**
     * A tier of {@code blocks} FullyContiguous blocks.
     *
     * @param blocks blocks, at least 1
     * @return the spec
     */
    public static TierSpec blocks(long blocks) {
        return new TierSpec(blocks, 0, LayoutType.FULLY_CONTIGUOUS, BlockDimension.BLOCK_IS_FIRST_DIM,
                Optional.empty(), Optional.empty(), Optional.empty());
    }

    /**
     * A tier of as many FullyContiguous blocks as fit in {@code bytes}.
     *
     * @param bytes the budget, at least one block
     * @return the spec
     */
    public static TierSpec bytes(long bytes) {
        return new TierSpec(0, bytes, LayoutType.FULLY_CONTIGUOUS, BlockDimension.BLOCK_IS_FIRST_DIM,
                Optional.empty(), Optional.empty(), Optional.empty());
    }

    /**
     * This spec with another layout.
     *
     * @param type the layout type
     * @return a new spec
     */
    public TierSpec layout(LayoutType type) {
        return new TierSpec(blocks, bytes, type, blockDimension, storage, directory, provider);
    }

    /**
     * This spec laid out LayerSeparate with the block index at {@code dimension}.
     *
     * @param dimension where the block index sits in each layer's tensor
     * @return a new spec
     */
    public TierSpec layerSeparate(BlockDimension dimension) {
        return new TierSpec(blocks, bytes, LayoutType.LAYER_SEPARATE, dimension, storage, directory, provider);
    }

    /**
     * This spec on a given storage kind.
     *
     * @param kind the kind, e.g. {@link StorageKind#SYSTEM}
     * @return a new spec
     */
    public TierSpec storage(StorageKind kind) {
        return new TierSpec(blocks, bytes, layout, blockDimension, Optional.of(kind), directory, provider);
    }

    /**
     * This spec with its files in {@code dir} (the disk tier).
     *
     * @param dir an existing, writable directory
     * @return a new spec
     */
    public TierSpec directory(Path dir) {
        return new TierSpec(blocks, bytes, layout, blockDimension, storage, Optional.of(dir), provider);
    }

    /**
     * This spec on the storage provider of that name, which must supply the tier's storage kind.
     *
     * @param name a provider's name, as {@code Backends.storageProviders()} lists them
     * @return a new spec
     */
    public TierSpec provider(String name) {
        return new TierSpec(blocks, bytes, layout, blockDimension, storage, directory,
                Optional.of(Objects.requireNonNull(name, "name")));
    }

    /** {@return the blocks of {@code shape} this spec holds} */
    int blockCount(Tier tier, ModelShape shape) {
        long n = blocks > 0 ? blocks : bytes / shape.blockBytes();
        if (n < 1) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "tier %s: a budget of %d bytes holds no block of %d bytes (%s); give at least one block's bytes",
                    tier, bytes, shape.blockBytes(), shape));
        }
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "tier %s: %d blocks exceed the %d a tier can index", tier, n, Integer.MAX_VALUE - 8));
        }
        return (int) n;
    }
}
