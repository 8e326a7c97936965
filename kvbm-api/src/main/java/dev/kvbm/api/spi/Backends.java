package dev.kvbm.api.spi;

import dev.kvbm.api.StorageKind;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The one place that discovers backends: every {@link StorageProvider}, {@link TransferExecutorProvider} and
 * {@link AgentProvider} on the module path or class path, found through {@link ServiceLoader}.
 *
 * <p>A provider that fails to load (a {@link ServiceConfigurationError}) does not hide the others: the error is
 * kept in {@link #report()} and logged. The system property {@value #SELECTION_PROPERTY} (a comma-separated
 * list of provider or backend names) restricts which providers are used; a name that matches nothing found is an
 * error, because an explicit choice that silently falls back is worse than none. Lookups such as
 * {@link #storageProvider(StorageKind)} consider selected, available providers only, and when nothing fits they
 * say what was found and why each candidate could not serve.
 *
 * <p>Instances are immutable snapshots and thread-safe; the providers they hold are shared singletons.
 */
public final class Backends {

    /** System property naming the providers or backends to use, e.g. {@code -Dkvbm.backends=system,cuda}. */
    public static final String SELECTION_PROPERTY = "kvbm.backends";

    private static final System.Logger LOG = System.getLogger(Backends.class.getName());

    private final List<StorageProvider> storageProviders;
    private final List<TransferExecutorProvider> executorProviders;
    private final List<AgentProvider> agentProviders;
    private final List<ProviderStatus> report;

    private Backends(List<StorageProvider> storage, List<TransferExecutorProvider> executors,
                     List<AgentProvider> agents, List<ProviderStatus> report) {
        this.storageProviders = List.copyOf(storage);
        this.executorProviders = List.copyOf(executors);
        this.agentProviders = List.copyOf(agents);
        this.report = List.copyOf(report);
    }

    private static volatile Backends shared; // guarded by Backends.class for writes

    /**
     * The providers of this JVM, discovered once (on first use, with {@link #load()}) and shared: what a
     * {@code TransportManager} uses unless given others. Providers are singletons, so every manager then sees the
     * same accounting.
     *
     * @return the JVM's shared providers
     * @throws IllegalStateException when {@value #SELECTION_PROPERTY} names a provider that is not found (and
     *                               again on the next call: a failed discovery is not cached)
     */
    public static Backends shared() {
        Backends b = shared;
        if (b == null) {
            synchronized (Backends.class) {
                b = shared;
                if (b == null) {
                    b = load();
                    shared = b;
                }
            }
        }
        return b;
    }

    /**
     * Discovers providers with the thread's context class loader, honouring {@value #SELECTION_PROPERTY}; each call
     * makes new provider instances (see {@link #shared()} for the JVM's one set).
     *
     * @return newly discovered providers
     */
    public static Backends load() {
        ClassLoader loader = Thread.currentThread().getContextClassLoader();
        return load(loader != null ? loader : Backends.class.getClassLoader(), parseSelection(System.getProperty(SELECTION_PROPERTY)));
    }

    /**
     * Discovers providers visible to {@code loader}.
     *
     * @param loader    the class loader whose service configuration and module layer are searched
     * @param selection provider or backend names to use; empty means all
     * @return newly discovered providers
     * @throws IllegalStateException when a selected name matches no provider found
     */
    public static Backends load(ClassLoader loader, Set<String> selection) {
        List<ProviderStatus> report = new ArrayList<>();
        List<StorageProvider> storage = discover(StorageProvider.class, loader, selection, report);
        List<TransferExecutorProvider> executors = discover(TransferExecutorProvider.class, loader, selection, report);
        List<AgentProvider> agents = discover(AgentProvider.class, loader, selection, report);
        if (!selection.isEmpty()) {
            Set<String> known = report.stream()
                    .filter(s -> s.state() != ProviderStatus.State.FAILED_TO_LOAD)
                    .flatMap(s -> java.util.stream.Stream.of(s.name(), s.backend()))
                    .collect(Collectors.toCollection(java.util.TreeSet::new));
            List<String> unknown = selection.stream().filter(n -> !known.contains(n)).toList();
            if (!unknown.isEmpty()) {
                throw new IllegalStateException(String.format(Locale.ROOT,
                        "-D%s names %s, which no provider on the module or class path has; found: %s",
                        SELECTION_PROPERTY, unknown, known.isEmpty() ? "none" : known));
            }
        }
        Backends backends = new Backends(storage, executors, agents, report);
        backends.log();
        return backends;
    }

    /**
     * Providers given explicitly rather than discovered: for an application that assembles its backends itself
     * (a disk provider on a chosen directory, a wrapped executor). Unavailable providers are kept but never picked,
     * as with discovery.
     *
     * @param storage   storage providers, in order of preference
     * @param executors transfer executor providers, in order of preference
     * @param agents    agent providers, in order of preference
     * @return the providers
     */
    public static Backends of(List<? extends StorageProvider> storage,
                              List<? extends TransferExecutorProvider> executors,
                              List<? extends AgentProvider> agents) {
        java.util.Objects.requireNonNull(storage, "storage");
        java.util.Objects.requireNonNull(executors, "executors");
        java.util.Objects.requireNonNull(agents, "agents");
        List<ProviderStatus> report = new ArrayList<>();
        List<BackendProvider> all = new ArrayList<>(storage);
        all.addAll(executors);
        all.addAll(agents);
        for (BackendProvider p : all) {
            java.util.Objects.requireNonNull(p, "a provider in the lists");
            String spi = p instanceof StorageProvider ? StorageProvider.class.getSimpleName()
                    : p instanceof TransferExecutorProvider ? TransferExecutorProvider.class.getSimpleName()
                    : AgentProvider.class.getSimpleName();
            Optional<Throwable> cause = p.unavailabilityCause();
            report.add(new ProviderStatus(spi, p.name(), p.backend(),
                    cause.isPresent() ? ProviderStatus.State.UNAVAILABLE : ProviderStatus.State.AVAILABLE,
                    cause.orElse(null)));
        }
        return new Backends(List.copyOf(storage), List.copyOf(executors), List.copyOf(agents), report);
    }

    /**
     * Parses a comma-separated selection; blank or null means "all".
     *
     * @param value the property's value, e.g. {@code system,ucx}; may be null
     * @return the names, trimmed; empty for "all"
     */
    public static Set<String> parseSelection(String value) {
        if (value == null || value.isBlank()) {
            return Set.of();
        }
        return Arrays.stream(value.split(",")).map(String::trim).filter(s -> !s.isEmpty())
                .collect(Collectors.toCollection(LinkedHashSet::new));
    }

    /** {@return selected storage providers, available or not, ordered by name} */
    public List<StorageProvider> storageProviders() {
        return storageProviders;
    }

    /** {@return selected executor providers, available or not, ordered by name} */
    public List<TransferExecutorProvider> executorProviders() {
        return executorProviders;
    }

    /** {@return selected agent providers, available or not, ordered by name} */
    public List<AgentProvider> agentProviders() {
        return agentProviders;
    }

    /** {@return one line per provider found (selected or not) and per provider that failed to load} */
    public List<ProviderStatus> report() {
        return report;
    }

    /**
     * The first selected, available provider that allocates {@code kind}.
     *
     * @param kind the storage kind to allocate
     * @return the provider
     * @throws UnsupportedOperationException when none does; the message lists what was found and why it cannot serve
     */
    public StorageProvider storageProvider(StorageKind kind) {
        return pick(storageProviders, p -> p.supports(kind), "storage of kind " + kind);
    }

    /**
     * The first selected, available executor provider that copies {@code source} to {@code destination}.
     *
     * @param source      the kind copied from
     * @param destination the kind copied to
     * @return the provider
     * @throws UnsupportedOperationException when none does
     */
    public TransferExecutorProvider executorProvider(StorageKind source, StorageKind destination) {
        return pick(executorProviders, p -> p.supports(source, destination), "copies " + source + " -> " + destination);
    }

    /**
     * Looks up the executor provider for a pair of kinds without failing.
     *
     * @param source      the kind copied from
     * @param destination the kind copied to
     * @return the provider, or empty when none is selected and available
     */
    public Optional<TransferExecutorProvider> findExecutorProvider(StorageKind source, StorageKind destination) {
        return executorProviders.stream().filter(BackendProvider::isAvailable)
                .filter(p -> p.supports(source, destination)).findFirst();
    }

    /**
     * The selected, available agent provider called {@code name}.
     *
     * @param name the provider's name, e.g. {@code local} or {@code ucx}
     * @return the provider
     * @throws UnsupportedOperationException when there is none
     */
    public AgentProvider agentProvider(String name) {
        return pick(agentProviders, p -> p.name().equals(name), "an agent named '" + name + "'");
    }

    private static <P extends BackendProvider> P pick(List<P> providers, java.util.function.Predicate<P> fits,
                                                     String what) {
        List<String> reasons = new ArrayList<>();
        for (P p : providers) {
            if (!fits.test(p)) {
                continue;
            }
            Optional<Throwable> cause = p.unavailabilityCause();
            if (cause.isEmpty()) {
                return p;
            }
            reasons.add(p.name() + " is unavailable: " + cause.get().getMessage());
        }
        String found = providers.isEmpty() ? "no providers of this kind were found"
                : "found " + providers.stream().map(BackendProvider::name).toList();
        throw new UnsupportedOperationException(String.format(Locale.ROOT,
                "no available backend provides %s; %s%s", what, found,
                reasons.isEmpty() ? "" : " (" + String.join("; ", reasons) + ")"));
    }

    private static <P extends BackendProvider> List<P> discover(Class<P> spi, ClassLoader loader, Set<String> selection,
                                                               List<ProviderStatus> report) {
        List<P> found = new ArrayList<>();
        Iterator<ServiceLoader.Provider<P>> it = ServiceLoader.load(spi, loader).stream().iterator();
        int consecutiveFailures = 0;
        while (true) {
            ServiceLoader.Provider<P> candidate;
            try {
                if (!it.hasNext()) {
                    break;
                }
                candidate = it.next();
            } catch (ServiceConfigurationError e) {
                report.add(ProviderStatus.failed(spi, e));
                // ServiceLoader makes a best effort to continue; stop if it keeps failing at the same place.
                if (++consecutiveFailures > 64) {
                    break;
                }
                continue;
            }
            try {
                found.add(candidate.get());
                consecutiveFailures = 0;
            } catch (ServiceConfigurationError | RuntimeException | LinkageError e) {
                report.add(ProviderStatus.failed(spi, e));
            }
        }
        found.sort(Comparator.comparing(BackendProvider::name));
        // The same provider can be visible twice (module path and a mirrored services file): keep one.
        List<P> unique = new ArrayList<>();
        Set<Class<?>> seen = new java.util.HashSet<>();
        for (P p : found) {
            if (seen.add(p.getClass())) {
                unique.add(p);
            }
        }
        List<P> selected = new ArrayList<>();
        for (P p : unique) {
            boolean chosen = selection.isEmpty() || selection.contains(p.name()) || selection.contains(p.backend());
            if (chosen) {
                selected.add(p);
            }
            report.add(ProviderStatus.of(spi, p, chosen));
        }
        return selected;
    }

    private void log() {
        if (report.isEmpty()) {
            LOG.log(System.Logger.Level.WARNING, "no kvbm backends found on the module path or class path;"
                    + " add a backend module such as kvbm-backend-system");
            return;
        }
        for (ProviderStatus s : report) {
            System.Logger.Level level = switch (s.state()) {
                case AVAILABLE, NOT_SELECTED -> System.Logger.Level.DEBUG;
                case UNAVAILABLE -> System.Logger.Level.INFO;
                case FAILED_TO_LOAD -> System.Logger.Level.WARNING;
            };
            LOG.log(level, s.toString());
        }
    }

    /**
     * What discovery found for one provider.
     *
     * @param spi     the service interface's simple name
     * @param name    provider name, or the failing class/config when it failed to load
     * @param backend backend name
     * @param state   outcome
     * @param cause   why it is unavailable or failed to load, or {@code null}
     */
    public record ProviderStatus(String spi, String name, String backend, State state, Throwable cause) {

        /** Outcome of discovering one provider. */
        public enum State {
            /** Loaded and able to work on this machine. */
            AVAILABLE,
            /** Loaded, but its native prerequisites are missing; the cause says which. */
            UNAVAILABLE,
            /** Loaded, and left out by the selection property. */
            NOT_SELECTED,
            /** Its class could not be loaded or instantiated. */
            FAILED_TO_LOAD
        }

        static ProviderStatus of(Class<?> spi, BackendProvider p, boolean selected) {
            Throwable cause = p.unavailabilityCause().orElse(null);
            State state = !selected ? State.NOT_SELECTED : cause == null ? State.AVAILABLE : State.UNAVAILABLE;
            return new ProviderStatus(spi.getSimpleName(), p.name(), p.backend(), state, cause);
        }

        static ProviderStatus failed(Class<?> spi, Throwable e) {
            return new ProviderStatus(spi.getSimpleName(), "?", "?", State.FAILED_TO_LOAD, e);
        }

        @Override
        public String toString() {
            String detail = switch (state) {
                case AVAILABLE -> "available";
                case NOT_SELECTED -> "found, not selected by -D" + SELECTION_PROPERTY;
                case UNAVAILABLE -> "unavailable: " + cause.getMessage();
                case FAILED_TO_LOAD -> "failed to load: " + cause;
            };
            return String.format(Locale.ROOT, "%s %s (backend %s): %s", spi, name, backend, detail);
        }
    }
}
