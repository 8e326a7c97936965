package dev.kvbm.bench;

/**
 * One measured result of a ratio runner, next to the baseline measured in the same run.
 *
 * @param bench    which benchmark, e.g. {@code disk}
 * @param name     what was measured, e.g. {@code FullyContiguous write}
 * @param value    the measured throughput (or size), in {@code unit}
 * @param baseline the baseline's, in {@code unit}
 * @param ratio    the median of the per-round ratios (not always {@code value / baseline}: rounds differ)
 * @param unit     e.g. {@code MiB/s}
 */
public record BenchResult(String bench, String name, double value, double baseline, double ratio, String unit) {
}
