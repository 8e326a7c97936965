package dev.kvbm.transport;

import java.util.Arrays;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;

/**
 * How {@link TransportManager#executeTransfer} moves blocks, beyond which blocks: a layer range, a bounce buffer
 * for two-hop transfers, and notification bytes for a write to a remote worker. Immutable; build with
 * {@link #builder()}, or use {@link #DEFAULT} (all layers, direct, no notification).
 */
public final class TransferOptions {

    /** Every layer, directly, without a notification. */
    public static final TransferOptions DEFAULT = builder().build();

    private final int layerStart;
    private final int layerEnd; // -1: all layers
    private final BounceBuffer bounceBuffer;
    private final byte[] writeNotification;

    private TransferOptions(Builder b) {
        this.layerStart = b.layerStart;
        this.layerEnd = b.layerEnd;
        this.bounceBuffer = b.bounceBuffer;
        this.writeNotification = b.writeNotification;
    }

    /**
     * Blocks of local memory that a transfer passes through: source → bounce → destination, in chunks. With two or
     * more bounce blocks the buffer is split in halves that alternate, so one chunk's second hop overlaps the next
     * chunk's first hop.
     *
     * @param handle a layout registered on this worker, compatible with both ends of the transfer
     * @param blocks the blocks of that layout to use; distinct
     */
    public record BounceBuffer(LayoutHandle handle, int[] blocks) {

        /** Checks the handle is present and the blocks are distinct, and copies them. */
        public BounceBuffer {
            Objects.requireNonNull(handle, "handle");
            blocks = blocks.clone();
            if (blocks.length == 0) {
                throw new IllegalArgumentException("a bounce buffer needs at least one block");
            }
            int[] sorted = blocks.clone();
            Arrays.sort(sorted);
            for (int i = 1; i < sorted.length; i++) {
                if (sorted[i] == sorted[i - 1]) {
                    throw new IllegalArgumentException("bounce block " + sorted[i] + " is listed twice; bounce blocks"
                            + " must be distinct");
                }
            }
        }

        /** {@return the blocks to use (a copy)} */
        @Override
        public int[] blocks() {
            return blocks.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof BounceBuffer b && handle.equals(b.handle) && Arrays.equals(blocks, b.blocks);
        }

        @Override
        public int hashCode() {
            return 31 * handle.hashCode() + Arrays.hashCode(blocks);
        }

        @Override
        public String toString() {
            return "BounceBuffer[" + handle + ", blocks " + Arrays.toString(blocks) + "]";
        }
    }

    /** {@return a builder for all layers, direct, no notification} */
    public static Builder builder() {
        return new Builder();
    }

    /** {@return the first layer to move (0 unless a range was set)} */
    public int layerStart() {
        return layerStart;
    }

    /** {@return one past the last layer to move, or empty for "through the last layer"} */
    public Optional<Integer> layerEnd() {
        return layerEnd < 0 ? Optional.empty() : Optional.of(layerEnd);
    }

    /** {@return the local layout the blocks pass through, or empty for a direct transfer} */
    public Optional<BounceBuffer> bounceBuffer() {
        return Optional.ofNullable(bounceBuffer);
    }

    /** {@return bytes delivered to the remote worker's agent once the written data has landed (a copy)} */
    public Optional<byte[]> writeNotification() {
        return Optional.ofNullable(writeNotification).map(byte[]::clone);
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "TransferOptions[layers %s, %s, %s]",
                layerEnd < 0 ? "all" : "[" + layerStart + ", " + layerEnd + ")",
                bounceBuffer == null ? "direct" : bounceBuffer,
                writeNotification == null ? "no notification" : "notification " + writeNotification.length + " bytes");
    }

    /** Mutable builder; not thread-safe. */
    public static final class Builder {
        private int layerStart;
        private int layerEnd = -1;
        private BounceBuffer bounceBuffer;
        private byte[] writeNotification;

        private Builder() {
        }

        /**
         * Move layers {@code [start, end)} only (a layer-wise transfer, e.g. as each layer finishes prefill).
         *
         * @param start first layer, at least 0
         * @param end   one past the last layer, above {@code start}; checked against the layouts at transfer time
         * @return this builder
         */
        public Builder layerRange(int start, int end) {
            if (start < 0 || end <= start) {
                throw new IllegalArgumentException(String.format(Locale.ROOT,
                        "layer range [%d, %d) invalid: need 0 <= start < end", start, end));
            }
            this.layerStart = start;
            this.layerEnd = end;
            return this;
        }

        /**
         * Pass through {@code blocks} of the local layout {@code handle}.
         *
         * @param handle a layout registered on this worker, compatible with both ends of the transfer
         * @param blocks the blocks of that layout to use, one per block transferred; distinct
         * @return this builder
         */
        public Builder bounceBuffer(LayoutHandle handle, int... blocks) {
            this.bounceBuffer = new BounceBuffer(handle, blocks);
            return this;
        }

        /**
         * Deliver {@code bytes} to the remote agent after a write to a remote layout completes.
         *
         * @param bytes the notification (copied)
         * @return this builder
         */
        public Builder writeNotification(byte[] bytes) {
            this.writeNotification = Objects.requireNonNull(bytes, "bytes").clone();
            return this;
        }

        /** {@return the options} */
        public TransferOptions build() {
            return new TransferOptions(this);
        }
    }
}
