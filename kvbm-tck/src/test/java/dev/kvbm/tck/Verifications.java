package dev.kvbm.tck;

import dev.kvbm.api.BlockDimension;
import dev.kvbm.api.Layout;
import dev.kvbm.api.LayoutConfig;
import dev.kvbm.api.MemoryRegion;
import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.AgentProvider;
import dev.kvbm.api.spi.StorageProvider;
import dev.kvbm.api.spi.TransferExecutorProvider;

import java.util.List;

/**
 * The kit applied to the test doubles of {@link TestDoubles}: one verification class per double, correct or broken.
 * Their names do not end in "Test", so Surefire leaves them alone; {@link KitSelfTest} runs them through the
 * runner and checks which rules pass and fail.
 */
final class Verifications {
    private Verifications() {
    }

    static class CorrectStorage extends StorageVerification {
        private static final StorageProvider PROVIDER = new TestDoubles.ArenaStorageProvider();

        @Override
        protected StorageProvider provider() {
            return PROVIDER;
        }

        @Override
        protected StorageKind kind() {
            return StorageKind.SYSTEM;
        }
    }

    /** A storage double with one defect: the subclasses below name which. */
    abstract static class BrokenStorage extends CorrectStorage {
        private final StorageProvider provider = new TestDoubles.ArenaStorageProvider(defect());

        abstract TestDoubles.StorageDefect defect();

        @Override
        protected StorageProvider provider() {
            return provider;
        }
    }

    static class AlignmentIgnoringStorage extends BrokenStorage {
        @Override
        TestDoubles.StorageDefect defect() {
            return TestDoubles.StorageDefect.IGNORES_ALIGNMENT;
        }
    }

    static class LargeAlignmentIgnoringStorage extends BrokenStorage {
        @Override
        TestDoubles.StorageDefect defect() {
            return TestDoubles.StorageDefect.IGNORES_ALIGNMENT_ABOVE_4096;
        }
    }

    static class DoubleCountingCloseStorage extends BrokenStorage {
        @Override
        TestDoubles.StorageDefect defect() {
            return TestDoubles.StorageDefect.CLOSE_COUNTS_TWICE;
        }
    }

    static class AliasingStorage extends BrokenStorage {
        @Override
        TestDoubles.StorageDefect defect() {
            return TestDoubles.StorageDefect.RACY_POOL;
        }
    }

    static class UnzeroedStorage extends BrokenStorage {
        @Override
        TestDoubles.StorageDefect defect() {
            return TestDoubles.StorageDefect.NOT_ZEROED;
        }
    }

    static class AvailableButEmptyStorage extends BrokenStorage {
        @Override
        TestDoubles.StorageDefect defect() {
            return TestDoubles.StorageDefect.CANNOT_ALLOCATE;
        }
    }

    static class OomLeakingStorage extends BrokenStorage {
        @Override
        TestDoubles.StorageDefect defect() {
            return TestDoubles.StorageDefect.OOM_ESCAPES;
        }
    }

    static class TypeOnlyStorage extends BrokenStorage {
        @Override
        TestDoubles.StorageDefect defect() {
            return TestDoubles.StorageDefect.CHECKS_TYPE_ONLY;
        }
    }

    static class CorrectFileStorage extends StorageVerification {
        private static final StorageProvider PROVIDER = new TestDoubles.UnitFileProvider(true);

        @Override
        protected StorageProvider provider() {
            return PROVIDER;
        }

        @Override
        protected StorageKind kind() {
            return StorageKind.disk(0);
        }
    }

    static class LostWriteFileStorage extends CorrectFileStorage {
        private static final StorageProvider PROVIDER = new TestDoubles.UnitFileProvider(false);

        @Override
        protected StorageProvider provider() {
            return PROVIDER;
        }
    }

    static class CorrectExecutor extends TransferExecutorVerification {
        static final StorageProvider MEMORY = new TestDoubles.ArenaStorageProvider();

        @Override
        protected TransferExecutorProvider executorProvider() {
            return new TestDoubles.CopyExecutorProvider();
        }

        @Override
        protected StorageProvider sourceProvider() {
            return MEMORY;
        }

        @Override
        protected StorageKind sourceKind() {
            return StorageKind.SYSTEM;
        }

        @Override
        protected StorageProvider destinationProvider() {
            return MEMORY;
        }

        @Override
        protected StorageKind destinationKind() {
            return StorageKind.SYSTEM;
        }
    }

    static class OneByteShortExecutor extends CorrectExecutor {
        @Override
        protected TransferExecutorProvider executorProvider() {
            return new TestDoubles.CopyExecutorProvider(TestDoubles.ExecutorDefect.ONE_BYTE_SHORT);
        }
    }

    static class QueueDroppingExecutor extends CorrectExecutor {
        @Override
        protected TransferExecutorProvider executorProvider() {
            return new TestDoubles.CopyExecutorProvider(TestDoubles.ExecutorDefect.CLOSE_DROPS_QUEUED);
        }
    }

    static class SelfWaitingExecutor extends CorrectExecutor {
        @Override
        protected TransferExecutorProvider executorProvider() {
            return new TestDoubles.CopyExecutorProvider(TestDoubles.ExecutorDefect.CLOSE_WAITS_FOR_ITSELF);
        }
    }

    static class LeaselessExecutor extends CorrectExecutor {
        @Override
        protected TransferExecutorProvider executorProvider() {
            return new TestDoubles.CopyExecutorProvider(TestDoubles.ExecutorDefect.NO_LEASES);
        }
    }

    static class CorrectAgent extends AgentVerification {
        @Override
        protected AgentProvider agentProvider() {
            return new TestDoubles.TestAgentProvider(true, 1);
        }

        @Override
        protected StorageProvider memoryProvider() {
            return CorrectExecutor.MEMORY;
        }
    }

    static class OutOfBoundsReadingAgent extends CorrectAgent {
        @Override
        protected AgentProvider agentProvider() {
            return new TestDoubles.TestAgentProvider(false, 1);
        }
    }

    static class TwiceNotifyingAgent extends CorrectAgent {
        @Override
        protected AgentProvider agentProvider() {
            return new TestDoubles.TestAgentProvider(true, 2);
        }
    }

    /** Registers regions without attaching a withdrawal to their storage: serves freed memory. */
    static class LifetimeIgnoringAgent extends CorrectAgent {
        @Override
        protected AgentProvider agentProvider() {
            return new TestDoubles.TestAgentProvider(true, 1, false);
        }
    }

    static class CorrectLayout extends LayoutVerification {
        @Override
        protected Layout fullyContiguous(LayoutConfig config, MemoryRegion region) {
            return TestDoubles.fullyContiguous(config, region, false);
        }

        @Override
        protected Layout layerSeparate(LayoutConfig config, BlockDimension dimension, List<MemoryRegion> layers) {
            return TestDoubles.layerSeparate(config, dimension, layers);
        }
    }

    static class WrongStrideLayout extends CorrectLayout {
        @Override
        protected Layout fullyContiguous(LayoutConfig config, MemoryRegion region) {
            return TestDoubles.fullyContiguous(config, region, true);
        }
    }
}
