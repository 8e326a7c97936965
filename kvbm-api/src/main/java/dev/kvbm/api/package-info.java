/**
 * Value types shared by every kvbm-java module: where memory lives ({@link dev.kvbm.api.StorageKind},
 * {@link dev.kvbm.api.MemType}), what a byte range is ({@link dev.kvbm.api.MemoryRegion}), how a KV cache is
 * shaped ({@link dev.kvbm.api.LayoutConfig}, {@link dev.kvbm.api.InnerShape},
 * {@link dev.kvbm.api.BlockDimension}) and how a block maps to bytes ({@link dev.kvbm.api.Layout}).
 *
 * <p>Everything here is immutable and safe to share between threads. This package depends on
 * {@code java.base} only; implementations live in other modules.
 */
package dev.kvbm.api;
