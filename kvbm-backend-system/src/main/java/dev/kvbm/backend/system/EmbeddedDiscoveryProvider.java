package dev.kvbm.backend.system;

import dev.kvbm.api.spi.Discovery;
import dev.kvbm.api.spi.DiscoveryProvider;

import java.nio.file.Path;
import java.util.Optional;

/**
 * {@code embedded} discovery, for workers on one host: no server, nothing to install. Each worker's entry is a file
 * in {@code <endpoints>/<namespace>/workers/}, replaced atomically (write, then rename) and renewed by a heartbeat
 * that touches it every third of the TTL; watchers scan the directory. An entry disappears when withdrawn, when its
 * heartbeat is older than the TTL, or at once when the process that wrote it is gone (one host: the pid is checked).
 *
 * <p>What it cannot do: span hosts (the directory is local, unless it is on a shared file system — NFS's attribute
 * caching then delays changes by its cache timeout, and the pid check must be off, see
 * {@value EmbeddedDiscovery#PID_CHECK_SETTING}), or order changes between workers: a watcher sees each worker's
 * latest entry at each scan, not every intermediate one.
 */
public final class EmbeddedDiscoveryProvider implements DiscoveryProvider {

    /** System property: the directory used when the options give no endpoints. */
    public static final String DIRECTORY_PROPERTY = "kvbm.discovery.dir";

    @Override
    public String name() {
        return "embedded";
    }

    @Override
    public String backend() {
        return "system";
    }

    @Override
    public Optional<Throwable> unavailabilityCause() {
        return PosixFiles.unavailabilityCause(); // entries are read through it, safe from files replaced under us
    }

    @Override
    public Discovery connect(Options options) {
        Path root = options.endpoints().isEmpty()
                ? Path.of(System.getProperty(DIRECTORY_PROPERTY,
                        Path.of(System.getProperty("java.io.tmpdir"), "kvbm-discovery").toString()))
                : Path.of(options.endpoints());
        return new EmbeddedDiscovery(root.toAbsolutePath().resolve(options.namespace()).resolve("workers"), options);
    }
}
