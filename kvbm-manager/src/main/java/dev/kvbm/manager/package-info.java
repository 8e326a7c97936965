/**
 * The block manager's public API: {@link dev.kvbm.manager.KvBlockManager} (what an engine calls: a pool per tier,
 * offload, onboard, remote blocks, metrics), {@link dev.kvbm.manager.BlockPool} (one tier's blocks, prefix reuse,
 * eviction, events) and {@link dev.kvbm.manager.TokenBlockSequence} (token blocks and their Dynamo-compatible
 * hashes).
 */
package dev.kvbm.manager;
