/**
 * A standalone port of bincode 2's {@code config::standard()} format (varint integers, little-endian), the bytes
 * Dynamo's Rust workers exchange. Depends on {@code java.base} only.
 */
module dev.kvbm.bincode {
    exports dev.kvbm.bincode;
}
