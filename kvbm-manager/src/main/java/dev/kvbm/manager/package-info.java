/**
 * The block manager's public API: {@link dev.kvbm.manager.TokenBlockSequence} (token blocks and their
 * Dynamo-compatible hashes) and the block pool.
 */
package dev.kvbm.manager;
