package dev.kvbm.transport;

import dev.kvbm.api.BlockDimension;
import dev.kvbm.api.InnerShape;
import dev.kvbm.api.InvalidMetadataException;
import dev.kvbm.api.LayoutConfig;
import dev.kvbm.api.MemType;
import dev.kvbm.api.MemoryRegion;
import dev.kvbm.api.StorageKind;
import dev.kvbm.layout.BlockFormat;
import dev.kvbm.layout.LayoutDescriptor;
import dev.kvbm.layout.LayoutTypeDetails;
import dev.kvbm.layout.Layouts;
import dev.kvbm.layout.NixlMetadata;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * Feeds random and mutated metadata to the two places untrusted input enters: {@link SerializedLayout#unpack()} and
 * {@link Layouts#fromDescriptor}. Each input must decode or fail with {@link InvalidMetadataException}; any other
 * exception or error (an OutOfMemoryError from a trusted length, an index error, a hang caught by the timeout)
 * fails the test with the seed and input that caused it. Seeded, so a failure reproduces.
 */
class MetadataFuzzTest {
    private static final long SEED = 0x6b76626d_66757a7aL;
    private static final int RANDOM_INPUTS = 30_000;
    private static final int MUTATED_INPUTS = 60_000;
    private static final int RANDOM_DESCRIPTORS = 30_000;

    private int decoded;
    private int rejected;
    private int rebuilt;
    private int descriptorsRejected;

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void everyInputDecodesOrFailsWithInvalidMetadataException() {
        SplittableRandom random = new SplittableRandom(SEED);
        List<byte[]> corpus = new ArrayList<>();
        corpus.add(Fixtures.DYNAMO_BYTES);
        for (int i = 0; i < 64; i++) {
            corpus.add(randomMetadata(random).toBytes());
        }
        int inputs = 0;
        for (int i = 0; i < RANDOM_INPUTS; i++, inputs++) {
            byte[] bytes = new byte[random.nextInt(160)];
            random.nextBytes(bytes);
            check(bytes);
        }
        for (int i = 0; i < MUTATED_INPUTS; i++, inputs++) {
            check(mutate(corpus.get(random.nextInt(corpus.size())), random));
        }
        for (int i = 0; i < RANDOM_DESCRIPTORS; i++, inputs++) {
            checkDescriptor(randomDescriptor(random, random.nextInt(4) == 0));
        }
        assertThat(inputs).isGreaterThanOrEqualTo(100_000);
        // The mutations must reach past the first bytes: some inputs decode, some descriptors rebuild, some fail.
        assertThat(decoded).as("inputs that decoded").isGreaterThan(1_000);
        assertThat(rejected).as("inputs rejected").isGreaterThan(50_000);
        assertThat(rebuilt).as("descriptors rebuilt").isGreaterThan(1_000);
        assertThat(descriptorsRejected).as("descriptors rejected").isGreaterThan(1_000);
    }

    private void check(byte[] bytes) {
        RdmaLayoutDescriptors value;
        try {
            value = SerializedLayout.fromBytes(bytes).unpack();
        } catch (InvalidMetadataException e) {
            assertThat(e.getMessage()).isNotBlank();
            rejected++;
            return;
        } catch (Throwable t) {
            throw new AssertionError("unpack threw " + t + " for input " + java.util.HexFormat.of().formatHex(bytes), t);
        }
        decoded++;
        for (LocalLayoutDescriptor layout : value.layouts()) {
            checkDescriptor(layout.layout());
        }
    }

    private void checkDescriptor(LayoutDescriptor descriptor) {
        try {
            Layouts.fromDescriptor(descriptor);
            rebuilt++;
        } catch (InvalidMetadataException e) {
            assertThat(e.getMessage()).isNotBlank();
            descriptorsRejected++;
        } catch (Throwable t) {
            fail("fromDescriptor threw " + t + " for " + descriptor, t);
        }
    }

    private static byte[] mutate(byte[] original, SplittableRandom random) {
        byte[] bytes = original.clone();
        int edits = 1 + random.nextInt(3);
        for (int e = 0; e < edits; e++) {
            if (bytes.length == 0) {
                return bytes;
            }
            int at = random.nextInt(bytes.length);
            switch (random.nextInt(7)) {
                case 0 -> bytes[at] ^= (byte) (1 << random.nextInt(8));
                case 1 -> bytes[at] = (byte) new int[] {0, 1, 2, 0x7F, 0x80, 0xFA, 0xFB, 0xFC, 0xFD, 0xFE, 0xFF}
                        [random.nextInt(11)];
                case 2 -> bytes[at] = (byte) random.nextInt(256);
                case 3 -> bytes = Arrays.copyOf(bytes, at);
                case 4 -> {
                    byte[] longer = new byte[bytes.length + 1];
                    System.arraycopy(bytes, 0, longer, 0, at);
                    longer[at] = (byte) random.nextInt(256);
                    System.arraycopy(bytes, at, longer, at + 1, bytes.length - at);
                    bytes = longer;
                }
                case 5 -> {
                    byte[] shorter = new byte[bytes.length - 1];
                    System.arraycopy(bytes, 0, shorter, 0, at);
                    System.arraycopy(bytes, at + 1, shorter, at, bytes.length - at - 1);
                    bytes = shorter;
                }
                default -> {
                    int length = Math.min(bytes.length - at, 1 + random.nextInt(8));
                    byte[] repeated = new byte[bytes.length + length];
                    System.arraycopy(bytes, 0, repeated, 0, at + length);
                    System.arraycopy(bytes, at, repeated, at + length, bytes.length - at);
                    bytes = repeated;
                }
            }
        }
        return bytes;
    }

    private static SerializedLayout randomMetadata(SplittableRandom random) {
        long worker = random.nextInt(4) == 0 ? random.nextLong() : random.nextInt(300);
        List<LocalLayoutDescriptor> layouts = new ArrayList<>();
        int count = random.nextInt(4);
        for (int i = 0; i < count; i++) {
            layouts.add(new LocalLayoutDescriptor(new LayoutHandle(worker, random.nextInt(65536)),
                    randomDescriptor(random, false)));
        }
        byte[] agentMetadata = new byte[random.nextInt(40)];
        random.nextBytes(agentMetadata);
        return SerializedLayout.pack(new WorkerAddress(worker, "worker-" + worker), agentMetadata, layouts);
    }

    /** A descriptor that is consistent unless {@code wild}, and then anything the types allow. */
    private static LayoutDescriptor randomDescriptor(SplittableRandom random, boolean wild) {
        LayoutConfig config = LayoutConfig.builder().numBlocks(1 + random.nextInt(wild ? 1 << 20 : 64))
                .numLayers(1 + random.nextInt(wild ? 1 << 16 : 8)).outerDim(1 + random.nextInt(2))
                .pageSize(1 + random.nextInt(32)).innerDim(1 + random.nextInt(512))
                .dtypeWidthBytes(1 << random.nextInt(4)).alignment(1 << random.nextInt(13))
                .innerShape(InnerShape.values()[random.nextInt(3)]).build();
        boolean fullyContiguous = random.nextBoolean();
        StorageKind location = switch (random.nextInt(wild ? 4 : 3)) {
            case 0 -> StorageKind.SYSTEM;
            case 1 -> StorageKind.PINNED;
            case 2 -> StorageKind.device(random.nextInt(8));
            default -> StorageKind.disk(random.nextLong());
        };
        MemType memType = wild ? MemType.values()[random.nextInt(MemType.values().length)] : MemType.of(location);
        long deviceId = location.type() == StorageKind.Type.DEVICE && !wild ? location.id() : random.nextInt(2);
        long perRegion = fullyContiguous ? config.totalSize()
                : config.regionSize() * config.outerDim() * config.numBlocks();
        int regions = fullyContiguous ? 1 : config.numLayers();
        if (wild) {
            regions = random.nextInt(regions + 2);
            perRegion = Math.max(0, perRegion + random.nextInt(3) - 1);
        }
        regions = Math.min(regions, 4096);
        List<MemoryRegion> memory = new ArrayList<>(regions);
        for (int i = 0; i < regions; i++) {
            long address = wild && random.nextInt(8) == 0 ? -perRegion - 1 : 0x10000L + (long) i << 32;
            memory.add(new MemoryRegion(address, perRegion));
        }
        LayoutTypeDetails details = fullyContiguous ? new LayoutTypeDetails.FullyContiguous(BlockFormat.OPERATIONAL)
                : new LayoutTypeDetails.LayerSeparate(BlockDimension.values()[random.nextInt(2)]);
        int version = wild && random.nextInt(8) == 0 ? random.nextInt() : LayoutDescriptor.VERSION;
        String agent = wild && random.nextInt(16) == 0 ? "" : "agent-" + random.nextInt(10);
        return new LayoutDescriptor(version, config, location, new NixlMetadata(agent, memType, deviceId), memory,
                details);
    }
}
