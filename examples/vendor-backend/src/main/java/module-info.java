/** An example third-party backend: shared host memory of its own kind, and a copy executor. */
module com.example.kvbm.shm {
    requires dev.kvbm.api;

    provides dev.kvbm.api.spi.StorageProvider with com.example.kvbm.shm.ShmStorageProvider;
    provides dev.kvbm.api.spi.TransferExecutorProvider with com.example.kvbm.shm.ShmCopyExecutorProvider;
}
