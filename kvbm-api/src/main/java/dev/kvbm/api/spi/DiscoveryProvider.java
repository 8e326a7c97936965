package dev.kvbm.api.spi;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.ServiceLoader;

/**
 * Where workers find each other: a registry in which each worker publishes its entry (its id, name and exported
 * metadata) under a lease that expires when the worker stops renewing it, and which others list and watch.
 * Found through {@link ServiceLoader} like the backends: the system backend has {@code embedded} (a directory on
 * one host, no server); {@code kvbm-discovery-etcd} has {@code etcd}.
 */
public interface DiscoveryProvider extends BackendProvider {

    /** System property naming the provider {@link #select()} picks (default {@value #DEFAULT}). */
    String PROPERTY = "kvbm.discovery";
    /** The provider used when none is named: one host, nothing to install. */
    String DEFAULT = "embedded";

    /**
     * Connects to the registry.
     *
     * @param options namespace, endpoints, lease TTL and provider-specific settings
     * @return a connection; closing it withdraws what it registered
     * @throws UnsupportedOperationException when the provider is unavailable here
     * @throws dev.kvbm.api.KvbmException    when the registry cannot be reached
     */
    Discovery connect(Options options);

    /**
     * What a connection needs.
     *
     * @param namespace groups the workers that see each other, e.g. {@code prod-llama}; letters, digits, {@code -},
     *                  {@code _} and {@code .}, 1 to 64 characters
     * @param endpoints where the registry is: for {@code embedded} a directory (empty: {@code kvbm.discovery.dir}
     *                  or {@code java.io.tmpdir/kvbm-discovery}); for {@code etcd} comma-separated URLs
     * @param ttl       how long an entry outlives its worker's last renewal (default 10 s), at least 1 s
     * @param settings  provider-specific settings
     */
    record Options(String namespace, String endpoints, Duration ttl, Map<String, String> settings) {
        /** Checks every field, naming what is wrong. */
        public Options {
            Objects.requireNonNull(namespace, "namespace");
            if (!namespace.matches("[A-Za-z0-9._-]{1,64}") || namespace.equals(".") || namespace.equals("..")) {
                throw new IllegalArgumentException("discovery namespace '" + namespace + "' must be 1 to 64 letters,"
                        + " digits, '-', '_' or '.' (and not '.' or '..')");
            }
            endpoints = endpoints == null ? "" : endpoints.strip();
            Objects.requireNonNull(ttl, "ttl");
            if (ttl.compareTo(Duration.ofSeconds(1)) < 0 || ttl.compareTo(Duration.ofHours(1)) > 0) {
                throw new IllegalArgumentException("discovery ttl " + ttl + " must be between 1 s and 1 h");
            }
            settings = Map.copyOf(Objects.requireNonNull(settings, "settings"));
        }

        /**
         * Options with the default TTL of 10 s and no settings.
         *
         * @param namespace the namespace
         * @param endpoints the endpoints, or empty for the provider's default
         * @return the options
         */
        public static Options of(String namespace, String endpoints) {
            return new Options(namespace, endpoints, Duration.ofSeconds(10), Map.of());
        }

        /**
         * These options with another TTL.
         *
         * @param ttl the lease TTL
         * @return new options
         */
        public Options withTtl(Duration ttl) {
            return new Options(namespace, endpoints, ttl, settings);
        }
    }

    /** {@return every discovery provider on the module or class path, ordered by name} */
    static List<DiscoveryProvider> all() {
        List<DiscoveryProvider> found = new ArrayList<>();
        ServiceLoader.load(DiscoveryProvider.class).forEach(found::add);
        found.sort(java.util.Comparator.comparing(DiscoveryProvider::name));
        return found;
    }

    /**
     * The provider called {@code name}.
     *
     * @param name e.g. {@code embedded} or {@code etcd}
     * @return the provider, available or not
     * @throws IllegalArgumentException naming the providers found when none is called {@code name}
     */
    static DiscoveryProvider named(String name) {
        List<DiscoveryProvider> all = all();
        return all.stream().filter(p -> p.name().equals(name)).findFirst().orElseThrow(() ->
                new IllegalArgumentException(String.format(Locale.ROOT, "no discovery provider '%s'; found: %s%s",
                        name, all.stream().map(DiscoveryProvider::name).toList(), name.equals("etcd")
                                ? " (etcd is in kvbm-discovery-etcd: add it to the module or class path)" : "")));
    }

    /** {@return the provider {@value #PROPERTY} names, else {@value #DEFAULT}} */
    static DiscoveryProvider select() {
        return named(System.getProperty(PROPERTY, DEFAULT).strip());
    }
}
