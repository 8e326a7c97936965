/**
 * The system backend: host memory ({@code StorageKind.SYSTEM}) allocated through {@code java.lang.foreign}, the
 * disk tier as real preallocated files, an executor that copies host↔host and host↔disk, and the {@code local}
 * agent for workers sharing one JVM. Depends on {@code dev.kvbm.api} only. The disk tier and the local agent need
 * {@code --enable-native-access=dev.kvbm.backend.system}.
 */
module dev.kvbm.backend.system {
    requires dev.kvbm.api;

    provides dev.kvbm.api.spi.StorageProvider with
            dev.kvbm.backend.system.SystemStorageProvider,
            dev.kvbm.backend.system.DiskStorageProvider;
    provides dev.kvbm.api.spi.TransferExecutorProvider with
            dev.kvbm.backend.system.HostCopyExecutorProvider;
    provides dev.kvbm.api.spi.AgentProvider with
            dev.kvbm.backend.system.LocalAgentProvider;
    provides dev.kvbm.api.spi.DiscoveryProvider with
            dev.kvbm.backend.system.EmbeddedDiscoveryProvider;
}
