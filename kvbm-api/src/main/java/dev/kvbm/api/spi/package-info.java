/**
 * The service-provider interfaces a backend implements, and {@link dev.kvbm.api.spi.Backends}, the one place that
 * discovers them.
 *
 * <p>A backend is a JPMS module that {@code provides} one or more of {@link dev.kvbm.api.spi.StorageProvider},
 * {@link dev.kvbm.api.spi.TransferExecutorProvider} and {@link dev.kvbm.api.spi.AgentProvider}, and mirrors each
 * in a {@code META-INF/services} file so class-path users find it too. Backends depend on this module only. A
 * provider whose native library or hardware is missing still loads; it reports
 * {@link dev.kvbm.api.spi.BackendProvider#isAvailable()} false and keeps the cause.
 *
 * <p>Ownership: whoever allocates a {@link dev.kvbm.api.spi.Storage} closes it; whoever creates a
 * {@link dev.kvbm.api.spi.TransferExecutor} or {@link dev.kvbm.api.spi.Agent} closes it. Providers themselves are
 * process-wide singletons and thread-safe.
 */
package dev.kvbm.api.spi;
