/**
 * The CUDA backend: pinned host memory ({@code StorageKind.PINNED}) and device memory ({@code StorageKind.device(n)})
 * from the CUDA driver API, bound with {@code java.lang.foreign} (no JNI library, nothing compiled on the user's
 * machine; CUDA 12 and 13 drivers alike), and an executor that copies Pinned/System↔Device and Device↔Device
 * asynchronously. Depends on {@code dev.kvbm.api} only; needs {@code --enable-native-access=dev.kvbm.backend.cuda}.
 * Without a driver or a device every provider reports why through {@code unavailabilityCause()}.
 */
module dev.kvbm.backend.cuda {
    requires dev.kvbm.api;

    exports dev.kvbm.backend.cuda;

    provides dev.kvbm.api.spi.StorageProvider with
            dev.kvbm.backend.cuda.CudaPinnedStorageProvider,
            dev.kvbm.backend.cuda.CudaDeviceStorageProvider;
    provides dev.kvbm.api.spi.TransferExecutorProvider with
            dev.kvbm.backend.cuda.CudaCopyExecutorProvider;
}
