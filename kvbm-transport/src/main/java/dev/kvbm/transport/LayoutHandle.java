package dev.kvbm.transport;

import java.math.BigInteger;
import java.util.Locale;

/**
 * Names one registered layout across workers: the worker that registered it and the id it got there.
 *
 * <p>On the wire it is Dynamo's {@code u128}: {@code workerId | layoutId << 64}, bits 80..127 zero.
 *
 * @param workerId the registering worker (an unsigned 64-bit value)
 * @param layoutId the id the worker assigned, 0..65535
 */
public record LayoutHandle(long workerId, int layoutId) {

    private static final BigInteger U64_MASK = BigInteger.ONE.shiftLeft(64).subtract(BigInteger.ONE);

    /** Checks the layout id fits in 16 bits. */
    public LayoutHandle {
        if (layoutId < 0 || layoutId > 0xFFFF) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "layout id %d out of range: must be 0..65535 (a u16)", layoutId));
        }
    }

    /** {@return the wire value {@code workerId | layoutId << 64}} */
    public BigInteger toU128() {
        return BigInteger.valueOf(layoutId).shiftLeft(64).or(new BigInteger(Long.toUnsignedString(workerId)));
    }

    /**
     * The handle a wire value encodes.
     *
     * @param value the u128 wire value
     * @return the handle
     * @throws IllegalArgumentException when the value is negative or sets bits above 79
     */
    public static LayoutHandle fromU128(BigInteger value) {
        if (value.signum() < 0 || value.bitLength() > 80) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "layout handle 0x%s sets bits above 79; a handle is worker_id (64 bits) | layout_id (16 bits) << 64",
                    value.toString(16)));
        }
        return new LayoutHandle(value.and(U64_MASK).longValue(), value.shiftRight(64).intValue());
    }

    @Override
    public String toString() {
        return "LayoutHandle(worker=" + Long.toUnsignedString(workerId) + ", layout=" + layoutId + ")";
    }
}
