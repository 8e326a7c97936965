/**
 * System memory and disk storage, and the host copy executor.
 *
 * <p>{@link dev.kvbm.backend.system.SystemStorageProvider} allocates page-aligned native memory from a shared
 * {@link java.lang.foreign.Arena} per allocation, so closing one storage frees exactly its memory and any later
 * access throws instead of touching freed memory. {@link dev.kvbm.backend.system.DiskStorageProvider} creates a
 * file per allocation, preallocates it with {@code posix_fallocate} (so the disk tier cannot run out of space
 * half-way through an offload) and deletes it on close. {@link dev.kvbm.backend.system.HostCopyExecutorProvider}
 * copies validated, coalesced batches between host storages and between host and file storages. All foreign calls
 * live in {@code PosixFiles}. Depends on {@code dev.kvbm.api} only.
 */
package dev.kvbm.backend.system;
