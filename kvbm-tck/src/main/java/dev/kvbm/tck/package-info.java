/**
 * The verifications of the compatibility kit, one abstract JUnit 5 class per SPI
 * ({@link dev.kvbm.tck.StorageVerification}, {@link dev.kvbm.tck.TransferExecutorVerification},
 * {@link dev.kvbm.tck.AgentVerification}, {@link dev.kvbm.tck.LayoutVerification}). A backend's conformance test
 * subclasses one and names what to verify; each test is named after a rule of the kit's specification
 * ({@code docs/tck-spec.md} in the repository). What the backend promises beyond the SPI's minimum is read from the
 * backend itself ({@code StorageProvider.capabilities(kind)}, {@code kinds()}, an executor's {@code supports}), so
 * these classes and the kit's runner ({@code java -m dev.kvbm.tck}, or the {@code kvbm-tck-VERSION-runner.zip}
 * bundle) give the same verdict, row for row; a rule whose promise is not made is skipped with the reason.
 *
 * <p>A third-party backend's conformance tests, complete (from {@code examples/vendor-backend} in the repository,
 * which CI builds and certifies on both paths):
 *
 * <pre>{@code
 * class ShmStorageConformanceTest extends StorageVerification {
 *     private static final StorageProvider PROVIDER = new ShmStorageProvider();
 *
 *     protected StorageProvider provider() { return PROVIDER; }
 *     protected StorageKind kind() { return ShmStorageProvider.KIND; } // StorageKind.vendor("example-shm", SYSTEM, 0)
 * }
 *
 * class ShmCopyConformanceTest {
 *     private static final StorageProvider SHM = new ShmStorageProvider();
 *     private static final StorageProvider SYSTEM = Backends.shared().storageProvider(StorageKind.SYSTEM);
 *
 *     private abstract static class Pair extends TransferExecutorVerification {
 *         protected TransferExecutorProvider executorProvider() { return new ShmCopyExecutorProvider(); }
 *         protected StorageProvider sourceProvider() { return sourceKind().equals(StorageKind.SYSTEM) ? SYSTEM : SHM; }
 *         protected StorageProvider destinationProvider() {
 *             return destinationKind().equals(StorageKind.SYSTEM) ? SYSTEM : SHM;
 *         }
 *     }
 *
 *     @Nested class ShmToSystem extends Pair {
 *         protected StorageKind sourceKind() { return ShmStorageProvider.KIND; }
 *         protected StorageKind destinationKind() { return StorageKind.SYSTEM; }
 *     }
 *     // ... one nested class per pair of kinds the executor copies
 * }
 * }</pre>
 *
 * <p>The build that runs them needs {@code dev.kvbm:kvbm-tck} (and {@code kvbm-backend-system} for reference System
 * memory) as test dependencies and <b>maven-surefire-plugin 3.5.4 or newer</b> with
 * {@code <useModulePath>true</useModulePath>}: older versions run module-path tests on the class path, where
 * {@link java.util.ServiceLoader} and the kit do not see the backend's module.
 */
package dev.kvbm.tck;
