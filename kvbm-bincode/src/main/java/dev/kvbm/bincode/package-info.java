/**
 * bincode 2 with {@code config::standard()}: unsigned integers of 16 bits and wider (and {@code usize}) are
 * varints — below 251 one byte, else a marker (251 u16, 252 u32, 253 u64, 254 u128) and the value little-endian;
 * signed integers are zigzag-encoded first; {@code u8}, {@code i8} and {@code bool} are one byte; floats are
 * little-endian IEEE; a {@code char} is its UTF-8 bytes; strings and byte vectors carry a varint length.
 *
 * <p>{@link dev.kvbm.bincode.BincodeWriter} always emits the shortest form.
 * {@link dev.kvbm.bincode.BincodeReader} accepts exactly what bincode accepts (including a wider marker than
 * needed, as bincode does) and rejects the rest with a {@link dev.kvbm.bincode.BincodeException} naming the
 * offset; it never allocates more than the remaining input justifies. Neither class is thread-safe.
 */
package dev.kvbm.bincode;
