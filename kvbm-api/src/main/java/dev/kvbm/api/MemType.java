package dev.kvbm.api;

/**
 * The memory types a NIXL-model agent registers, in NIXL's order (the order is the wire index).
 */
public enum MemType {
    /** Host memory. */
    DRAM,
    /** GPU memory. */
    VRAM,
    /** A block device. */
    BLOCK,
    /** An object store. */
    OBJECT,
    /** A file. */
    FILE,
    /** Anything else. */
    UNKNOWN;

    /**
     * {@return the memory type an agent registers for storage of the given kind}
     *
     * @param kind where the storage lives
     */
    public static MemType of(StorageKind kind) {
        return switch (kind.type()) {
            case SYSTEM, PINNED -> DRAM;
            case DEVICE -> VRAM;
            case DISK -> FILE;
        };
    }
}
