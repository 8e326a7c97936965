/**
 * Layouts over memory: {@link dev.kvbm.layout.Layouts} builds a {@link dev.kvbm.api.Layout} over regions that
 * already exist (local or another worker's) or allocates backing storage for one
 * ({@link dev.kvbm.layout.OwnedLayout}); {@link dev.kvbm.layout.BlockTransfers} turns "copy these blocks" into
 * region pairs; {@link dev.kvbm.layout.TensorLayouts} checks an inference engine's KV tensors and derives the
 * matching config.
 *
 * <p>The address math equals Dynamo v2's, so descriptors exchanged with a Dynamo worker address the same bytes.
 * Every product is computed with {@link java.lang.Math#multiplyExact}; a region too small for its config is an
 * error naming both sizes. Layouts are immutable and thread-safe. This package depends on {@code dev.kvbm.api}
 * only; it finds no backend by itself.
 */
package dev.kvbm.layout;
