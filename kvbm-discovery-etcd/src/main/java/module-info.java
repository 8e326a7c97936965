/**
 * Worker discovery on etcd: the {@code etcd} {@link dev.kvbm.api.spi.DiscoveryProvider}, on jetcd. Depends on the
 * API and jetcd only.
 */
module dev.kvbm.discovery.etcd {
    requires dev.kvbm.api;
    requires jetcd.core;

    provides dev.kvbm.api.spi.DiscoveryProvider with dev.kvbm.discovery.etcd.EtcdDiscoveryProvider;
}
