package dev.kvbm.transport;

import dev.kvbm.api.InvalidMetadataException;
import dev.kvbm.layout.LayoutDescriptor;

import java.util.Objects;

/**
 * One {@link LayoutDescriptor} as bytes: Dynamo's bincode encoding of the struct, the same bytes it has inside
 * {@link SerializedLayout}. For a descriptor kept or sent on its own; its JSON form is
 * {@link dev.kvbm.layout.LayoutDescriptorJson}.
 */
public final class LayoutDescriptorBytes {

    private LayoutDescriptorBytes() {
    }

    /**
     * Encodes a descriptor in Dynamo's bincode form.
     *
     * @param descriptor the descriptor encoded
     * @return the bytes
     */
    public static byte[] toBytes(LayoutDescriptor descriptor) {
        return WireFormat.encodeDescriptor(Objects.requireNonNull(descriptor, "descriptor"));
    }

    /**
     * Decodes bytes that hold exactly one descriptor (trailing bytes are rejected). Only the encoding is checked;
     * {@link dev.kvbm.layout.Layouts#fromDescriptor} checks the descriptor against its config.
     *
     * @param bytes the encoded descriptor, possibly a peer's
     * @return the descriptor
     * @throws InvalidMetadataException naming the field and offset of the first problem
     */
    public static LayoutDescriptor fromBytes(byte[] bytes) {
        return WireFormat.decodeDescriptor(Objects.requireNonNull(bytes, "bytes"));
    }
}
