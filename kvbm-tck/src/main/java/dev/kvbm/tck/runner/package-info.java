/**
 * The kit's runner ({@link dev.kvbm.tck.runner.TckRunner}, the main class of module {@code dev.kvbm.tck}): it finds
 * every backend on the module path, runs the verifications that apply to each provider, prints a backend × rule
 * table and writes a JUnit XML report. The {@code Discovered*Verification} classes bind the verifications to the
 * {@link dev.kvbm.tck.runner.Subject} being run.
 */
package dev.kvbm.tck.runner;
