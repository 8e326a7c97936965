/**
 * Block layouts: the address math of FullyContiguous and LayerSeparate KV caches, layouts that own storage
 * allocated through a {@link dev.kvbm.api.spi.StorageProvider}, block-transfer planning, tensor validation, and
 * layout descriptors (what a peer rebuilds a layout from) with their JSON form. Depends on {@code dev.kvbm.api};
 * Jackson is used for the JSON form only.
 */
module dev.kvbm.layout {
    requires transitive dev.kvbm.api;
    requires com.fasterxml.jackson.databind;

    exports dev.kvbm.layout;
}
