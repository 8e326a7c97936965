package dev.kvbm.discovery.etcd;

import dev.kvbm.api.spi.Discovery;
import dev.kvbm.api.spi.DiscoveryProvider;

import java.util.Optional;

/**
 * {@code etcd} discovery, for a fleet across hosts: one key per worker, {@code /kvbm/<namespace>/workers/<id>},
 * attached to a lease with the options' TTL (default 10 s) that the worker renews; watches list the prefix, then
 * follow it from the next revision, and re-list on every reconnect and every TTL so no change is missed. Endpoints:
 * comma-separated URLs, e.g. {@code http://10.0.0.5:2379,http://10.0.0.6:2379} (default
 * {@code http://127.0.0.1:2379}).
 */
public final class EtcdDiscoveryProvider implements DiscoveryProvider {

    /** Endpoints used when the options give none. */
    public static final String DEFAULT_ENDPOINTS = "http://127.0.0.1:2379";

    @Override
    public String name() {
        return "etcd";
    }

    @Override
    public String backend() {
        return "etcd";
    }

    @Override
    public Optional<Throwable> unavailabilityCause() {
        return Optional.empty(); // a pure-Java client: whether a server answers is known at connect
    }

    @Override
    public Discovery connect(Options options) {
        return new EtcdDiscovery(options.endpoints().isEmpty() ? DEFAULT_ENDPOINTS : options.endpoints(), options);
    }
}
