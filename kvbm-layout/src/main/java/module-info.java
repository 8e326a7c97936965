/**
 * Block layouts: the address math of FullyContiguous and LayerSeparate KV caches, layouts that own storage
 * allocated through a {@link dev.kvbm.api.spi.StorageProvider}, block-transfer planning and tensor validation.
 * Depends on {@code dev.kvbm.api} only.
 */
module dev.kvbm.layout {
    requires transitive dev.kvbm.api;

    exports dev.kvbm.layout;
}
