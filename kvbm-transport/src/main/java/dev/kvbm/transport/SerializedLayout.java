package dev.kvbm.transport;

import dev.kvbm.api.InvalidMetadataException;

import java.util.List;
import java.util.Objects;

/**
 * The bytes one worker sends another so it can reach its layouts: an encoded {@link RdmaLayoutDescriptors}, byte
 * for byte what Dynamo's {@code SerializedLayout} holds for the same values, so Java and Rust workers read each
 * other's metadata.
 *
 * <p>{@link #fromBytes} accepts any bytes; {@link #unpack} is where untrusted input is checked. Immutable.
 */
public final class SerializedLayout {
    private final byte[] bytes;

    private SerializedLayout(byte[] bytes) {
        this.bytes = bytes;
    }

    /**
     * Encodes a worker's address, its agent's metadata and its layouts' descriptors.
     *
     * @param workerAddress the publishing worker
     * @param nixlMetadata  its agent's metadata blob
     * @param layouts       the exported layouts
     * @return the encoded form
     */
    public static SerializedLayout pack(WorkerAddress workerAddress, byte[] nixlMetadata,
                                        List<LocalLayoutDescriptor> layouts) {
        return new SerializedLayout(WireFormat.encode(new RdmaLayoutDescriptors(workerAddress, nixlMetadata, layouts)));
    }

    /**
     * Wraps bytes received from a peer (copied); nothing is checked until {@link #unpack()}.
     *
     * @param bytes the encoded form, untrusted
     * @return the wrapper
     */
    public static SerializedLayout fromBytes(byte[] bytes) {
        return new SerializedLayout(Objects.requireNonNull(bytes, "bytes").clone());
    }

    /**
     * Decodes the bytes. The bytes must be exactly one value: trailing bytes are rejected. Only the encoding is
     * checked here; {@link TransportManager#importMetadata} also checks each descriptor against its config.
     *
     * @return the worker's address, agent metadata and layout descriptors
     * @throws InvalidMetadataException naming the field and byte offset of the first problem; no other exception
     *                                  comes from malformed bytes
     */
    public RdmaLayoutDescriptors unpack() {
        return WireFormat.decode(bytes);
    }

    /** {@return the encoded bytes (a copy)} */
    public byte[] toBytes() {
        return bytes.clone();
    }

    /** {@return number of encoded bytes} */
    public int size() {
        return bytes.length;
    }

    @Override
    public String toString() {
        return "SerializedLayout[" + bytes.length + " bytes]";
    }
}
