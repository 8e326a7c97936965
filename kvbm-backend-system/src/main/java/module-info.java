/**
 * The system backend: host memory ({@code StorageKind.SYSTEM}) allocated through {@code java.lang.foreign}, the
 * disk tier as real preallocated files, and an executor that copies host↔host and host↔disk. Depends on
 * {@code dev.kvbm.api} only. The disk tier needs {@code --enable-native-access=dev.kvbm.backend.system}.
 */
module dev.kvbm.backend.system {
    requires dev.kvbm.api;

    provides dev.kvbm.api.spi.StorageProvider with
            dev.kvbm.backend.system.SystemStorageProvider,
            dev.kvbm.backend.system.DiskStorageProvider;
    provides dev.kvbm.api.spi.TransferExecutorProvider with
            dev.kvbm.backend.system.HostCopyExecutorProvider;
}
