/**
 * The verifications of the compatibility kit, one abstract JUnit 5 class per SPI
 * ({@link dev.kvbm.tck.StorageVerification}, {@link dev.kvbm.tck.TransferExecutorVerification},
 * {@link dev.kvbm.tck.AgentVerification}, {@link dev.kvbm.tck.LayoutVerification}). A backend's conformance test
 * subclasses one and overrides its factory methods and the capabilities it has; each test is named after a rule
 * of the kit's specification ({@code docs/tck-spec.md} in the repository), and a rule whose capability is not
 * declared is skipped with the reason.
 */
package dev.kvbm.tck;
