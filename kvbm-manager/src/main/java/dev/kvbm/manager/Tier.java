package dev.kvbm.manager;

/**
 * The tiers a {@link KvBlockManager} keeps blocks in, fastest first. Blocks move down (offload) when registered and
 * when evicted, and back up to G1 (onboard) when a request needs them.
 */
public enum Tier {
    /** The engine's tier: GPU memory when a GPU backend is available, otherwise host memory. */
    G1,
    /** Host memory: pinned when a backend provides it, otherwise system memory. */
    G2,
    /** Local disk. */
    G3
}
