package dev.kvbm.bincode;

/** The markers of bincode 2's variable-length integers. */
final class Varint {
    /** Largest value stored in the marker byte itself. */
    static final int MAX_SINGLE = 250;
    static final int U16 = 251;
    static final int U32 = 252;
    static final int U64 = 253;
    static final int U128 = 254;

    private Varint() {
    }
}
