/**
 * The CUDA backend: {@link dev.kvbm.backend.cuda.CudaPinnedStorageProvider},
 * {@link dev.kvbm.backend.cuda.CudaDeviceStorageProvider} and {@link dev.kvbm.backend.cuda.CudaCopyExecutorProvider},
 * over the CUDA driver API bound with {@code java.lang.foreign}.
 */
package dev.kvbm.backend.cuda;
