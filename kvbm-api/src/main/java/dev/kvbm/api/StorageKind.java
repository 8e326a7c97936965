package dev.kvbm.api;

import java.util.Locale;
import java.util.Objects;

/**
 * Where a piece of storage lives: plain host memory, pinned host memory, a GPU's memory, or a file.
 *
 * <p>The order of {@link Type} is the wire order Dynamo uses (System=0, Pinned=1, Device=2, Disk=3), so a
 * kind survives a round trip through a serialized layout descriptor. {@code id} is the device ordinal for
 * {@link Type#DEVICE}, the file descriptor (an unsigned 64-bit value on the wire) for {@link Type#DISK}, and
 * zero otherwise.
 *
 * <p>Instances are immutable values; compare them with {@link #equals(Object)}.
 *
 * @param type which tier of memory
 * @param id   device ordinal, file descriptor, or 0
 */
public record StorageKind(Type type, long id) {

    /** Plain host memory from the system allocator. */
    public static final StorageKind SYSTEM = new StorageKind(Type.SYSTEM, 0);

    /** Host memory pinned (page-locked) for DMA by an accelerator. */
    public static final StorageKind PINNED = new StorageKind(Type.PINNED, 0);

    /** The tiers, in wire order. */
    public enum Type {
        /** Pageable host memory. */
        SYSTEM,
        /** Host memory pinned for DMA. */
        PINNED,
        /** GPU memory; the id is the device ordinal. */
        DEVICE,
        /** A file of the disk tier; the id is its descriptor. */
        DISK;

        /** {@return the variant index used by the wire format} */
        public int wireIndex() {
            return ordinal();
        }
    }

    /** Checks the type and that the id fits it. */
    public StorageKind {
        Objects.requireNonNull(type, "type");
        switch (type) {
            case SYSTEM, PINNED -> {
                if (id != 0) {
                    throw new IllegalArgumentException(String.format(Locale.ROOT,
                            "StorageKind %s carries no id, got id=%d (use StorageKind.%s)", type, id, type));
                }
            }
            case DEVICE -> {
                if (id < 0 || id > 0xFFFF_FFFFL) {
                    throw new IllegalArgumentException(String.format(Locale.ROOT,
                            "device id %d out of range: must be 0..4294967295 (a u32 device ordinal)", id));
                }
            }
            case DISK -> {
                // Any 64-bit value: the wire form is an unsigned file descriptor.
            }
        }
    }

    /**
     * GPU memory of one device.
     *
     * @param id the device's CUDA ordinal, at least 0
     * @return the kind
     */
    public static StorageKind device(int id) {
        if (id < 0) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "device id %d out of range: must be >= 0", id));
        }
        return new StorageKind(Type.DEVICE, id);
    }

    /**
     * A file opened as file descriptor {@code fd}. When asking a provider to allocate disk storage, the fd of the
     * requested kind is ignored: the provider opens a new file and the returned storage carries its real fd.
     *
     * @param fd the file descriptor, any 64-bit value (the wire form is unsigned)
     * @return the kind
     */
    public static StorageKind disk(long fd) {
        return new StorageKind(Type.DISK, fd);
    }

    /** {@return true when the CPU can load and store these bytes directly (system and pinned memory)} */
    public boolean isHostAccessible() {
        return type == Type.SYSTEM || type == Type.PINNED;
    }

    /** {@return the device ordinal of a {@link Type#DEVICE} kind} */
    public int deviceId() {
        if (type != Type.DEVICE) {
            throw new IllegalStateException("deviceId() is defined for Device kinds only, this is " + this);
        }
        return (int) id;
    }

    /** {@return the file descriptor of a {@link Type#DISK} kind} */
    public long fd() {
        if (type != Type.DISK) {
            throw new IllegalStateException("fd() is defined for Disk kinds only, this is " + this);
        }
        return id;
    }

    /** Dynamo's debug spelling: {@code System}, {@code Pinned}, {@code Device(0)}, {@code Disk(7)}. */
    @Override
    public String toString() {
        return switch (type) {
            case SYSTEM -> "System";
            case PINNED -> "Pinned";
            case DEVICE -> "Device(" + id + ")";
            case DISK -> "Disk(" + Long.toUnsignedString(id) + ")";
        };
    }
}
