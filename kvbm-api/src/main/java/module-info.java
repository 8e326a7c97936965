/**
 * The contract of kvbm-java: value types ({@link dev.kvbm.api.StorageKind}, {@link dev.kvbm.api.MemoryRegion},
 * {@link dev.kvbm.api.LayoutConfig}, ...), the {@link dev.kvbm.api.Layout} mapping, and the service-provider
 * interfaces in {@code dev.kvbm.api.spi} that backends implement. Depends on {@code java.base} only.
 */
module dev.kvbm.api {
    exports dev.kvbm.api;
    exports dev.kvbm.api.spi;

    uses dev.kvbm.api.spi.StorageProvider;
    uses dev.kvbm.api.spi.TransferExecutorProvider;
    uses dev.kvbm.api.spi.AgentProvider;
    uses dev.kvbm.api.spi.DiscoveryProvider;
}
