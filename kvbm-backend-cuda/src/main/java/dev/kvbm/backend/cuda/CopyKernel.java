package dev.kvbm.backend.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/**
 * The copy kernel's PTX ({@code kvbm_copy.ptx}, compiled from {@code src/main/cuda/kvbm_copy.cu} by
 * {@code scripts/cuda-ptx}), read once from this module's resources.
 */
final class CopyKernel {
    static final String RESOURCE = "kvbm_copy.ptx";

    private CopyKernel() {
    }

    /** {@return the PTX text} */
    static String ptx() {
        return Holder.PTX;
    }

    private static final class Holder {
        static final String PTX = load();

        private static String load() {
            try (InputStream in = CopyKernel.class.getResourceAsStream(RESOURCE)) {
                if (in == null) {
                    throw new IllegalStateException("the copy kernel " + RESOURCE + " is missing from the jar of"
                            + " dev.kvbm.backend.cuda; rebuild it (scripts/cuda-ptx)");
                }
                return new String(in.readAllBytes(), StandardCharsets.US_ASCII);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read the copy kernel " + RESOURCE, e);
            }
        }
    }
}
