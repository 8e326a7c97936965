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
 * <p><b>Vendor kinds.</b> Hardware that is none of the four — a vendor's shared memory, a new accelerator's memory —
 * gets a kind of its own with {@link #vendor(String, Type, long)}: a name, and the built-in type it travels as.
 * The type is what the wire and the agents see (its wire index, its {@link MemType}, whether the CPU reaches it), so a
 * peer and Dynamo's format see a vendor kind as its type; in this JVM it is a kind of its own, which only the
 * providers that declare it allocate (a provider of {@link #SYSTEM} does not allocate {@code vendor("shm", SYSTEM,
 * 0)}), so adding a vendor's jar never moves other callers onto its memory.
 *
 * <p>Instances are immutable values; compare them with {@link #equals(Object)}.
 *
 * @param type   which tier of memory, or the type a vendor kind travels as
 * @param id     device ordinal, file descriptor, or 0
 * @param vendor the vendor kind's name, or empty for the four built-in kinds
 */
public record StorageKind(Type type, long id, String vendor) {

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

    /** The names a vendor kind may not take: the built-in kinds' own spellings. */
    private static final java.util.Set<String> BUILT_IN_NAMES = java.util.Set.of("system", "pinned", "device", "disk");

    /**
     * A built-in kind.
     *
     * @param type which tier of memory
     * @param id   device ordinal, file descriptor, or 0
     */
    public StorageKind(Type type, long id) {
        this(type, id, "");
    }

    /** Checks the type, that the id fits it, and a vendor kind's name. */
    public StorageKind {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(vendor, "vendor (empty for a built-in kind)");
        if (!vendor.isEmpty() && (!vendor.matches("[a-z][a-z0-9-]{0,31}") || BUILT_IN_NAMES.contains(vendor))) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "vendor kind name '%s' is not allowed: use 1..32 characters of a-z, 0-9 and '-', starting with a"
                            + " letter, other than %s", vendor, new java.util.TreeSet<>(BUILT_IN_NAMES)));
        }
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

    /**
     * A kind of a vendor's own, for memory that is none of the built-in four.
     *
     * @param name a name of 1..32 characters of {@code a-z}, {@code 0-9} and {@code -}, starting with a letter, e.g.
     *             {@code shm}; not {@code system}, {@code pinned}, {@code device} or {@code disk}
     * @param type the built-in type it travels as on the wire and to the agents: {@link Type#SYSTEM} or
     *             {@link Type#PINNED} for memory the CPU reaches, {@link Type#DEVICE} for an accelerator's memory
     * @param id   as for {@code type}: 0 for host types, the device ordinal for a device type
     * @return the kind
     */
    public static StorageKind vendor(String name, Type type, long id) {
        Objects.requireNonNull(name, "name");
        if (name.isEmpty()) {
            throw new IllegalArgumentException("a vendor kind needs a name; the built-in kinds are StorageKind.SYSTEM,"
                    + " PINNED, device(id) and disk(fd)");
        }
        return new StorageKind(type, id, name);
    }

    /** {@return true for a vendor's own kind, false for the four built-in kinds} */
    public boolean isVendor() {
        return !vendor.isEmpty();
    }

    /** {@return this kind as the wire and the agents see it: a vendor kind becomes its built-in type} */
    public StorageKind builtIn() {
        return isVendor() ? new StorageKind(type, id) : this;
    }

    /**
     * {@return how configuration spells the kind: {@code system}, {@code pinned}, {@code device}, {@code disk} or a
     * vendor kind's name (ids are left out: {@code -Dkvbm.provider.device=...} chooses for every device)}
     */
    public String key() {
        return isVendor() ? vendor : type.name().toLowerCase(Locale.ROOT);
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

    /**
     * Dynamo's debug spelling: {@code System}, {@code Pinned}, {@code Device(0)}, {@code Disk(7)}; a vendor kind is
     * its name and type, e.g. {@code shm[System]}.
     */
    @Override
    public String toString() {
        if (isVendor()) {
            return vendor + "[" + builtIn() + "]";
        }
        return switch (type) {
            case SYSTEM -> "System";
            case PINNED -> "Pinned";
            case DEVICE -> "Device(" + id + ")";
            case DISK -> "Disk(" + Long.toUnsignedString(id) + ")";
        };
    }
}
