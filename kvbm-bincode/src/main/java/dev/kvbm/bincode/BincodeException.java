package dev.kvbm.bincode;

/**
 * Bytes that bincode 2 would refuse, or that ran out: says what was wrong and at which offset. Decoding untrusted
 * input fails with this exception and nothing else.
 */
public final class BincodeException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final int offset;

    public BincodeException(int offset, String message) {
        super(message + " (at byte offset " + offset + ")");
        this.offset = offset;
    }

    /** Offset into the input where the problem was found. */
    public int offset() {
        return offset;
    }
}
