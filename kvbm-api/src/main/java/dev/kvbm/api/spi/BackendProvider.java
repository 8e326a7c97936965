package dev.kvbm.api.spi;

import java.util.Optional;

/**
 * What every provider found through {@link java.util.ServiceLoader} has in common: a name, the backend it belongs
 * to, and whether it can work on this machine.
 *
 * <p>Availability follows Netty's {@code Epoll}: a provider probes its native prerequisites once, keeps the
 * failure, and reports it through {@link #unavailabilityCause()} instead of throwing from its constructor. A
 * provider must be constructible (public no-argument constructor or {@code provider()} method) on any machine.
 * Implementations are thread-safe.
 */
public interface BackendProvider {

    /** {@return a short unique name, e.g. {@code system-memory}; selectable with {@code -Dkvbm.backends}} */
    String name();

    /**
     * {@return the backend (module) this provider belongs to, e.g. {@code system}; also selectable. Defaults to {@link #name()}}
     */
    default String backend() {
        return name();
    }

    /** {@return why this provider cannot work here, or empty when it can} */
    Optional<Throwable> unavailabilityCause();

    /** {@return true when this provider can work on this machine} */
    default boolean isAvailable() {
        return unavailabilityCause().isEmpty();
    }

    /** Throws, with the cause attached, when this provider cannot work here. */
    default void ensureAvailable() {
        Optional<Throwable> cause = unavailabilityCause();
        if (cause.isPresent()) {
            throw new UnsupportedOperationException(
                    "backend provider '" + name() + "' is unavailable: " + cause.get().getMessage(), cause.get());
        }
    }
}
