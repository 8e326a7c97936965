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
 * <p><b>Which provider serves a kind.</b> When several providers offer the same kind (or executors the same pair of
 * kinds), the choice is explicit or follows one documented order, and is never moved by adding a jar:
 * <ol>
 *   <li>an explicit choice: {@code -Dkvbm.provider.KIND=NAME} for storage ({@code KIND} is {@code system},
 *       {@code pinned}, {@code device}, {@code disk} or a vendor kind's name), {@code -Dkvbm.executor.FROM.TO=NAME}
 *       for the executor of a pair (e.g. {@code -Dkvbm.executor.system.disk=system-copy}), or
 *       {@link #choose(StorageKind, String)} and {@link #chooseExecutor(StorageKind, StorageKind, String)}; a choice
 *       that names no selected provider of that kind is an error, and a chosen provider that is unavailable fails
 *       the lookup rather than falling back;</li>
 *   <li>for a {@linkplain StorageKind#vendor vendor kind}, the providers (and, for a pair, the executors of the
 *       backends) that declare it in {@link StorageProvider#kinds()};</li>
 *   <li>the providers this project ships (the reference backends, in packages {@code dev.kvbm.backend.*});</li>
 *   <li>any other provider;</li>
 * </ol>
 * by name within each step. So a vendor's jar that also offers {@code System} memory serves callers who choose it,
 * and nobody else. {@link #load()} logs, once, each kind or pair that more than one provider offers, which one
 * serves it and why ({@link #choices()} returns the same): at INFO when a third party's provider is among them or
 * the choice was explicit, at DEBUG when only this project's providers are (their order is the documented one).
 * Lists given to {@link #of} are taken in the order given.
 *
 * <p>Instances are immutable snapshots and thread-safe; the providers they hold are shared singletons.
 */
public final class Backends {

    /** System property naming the providers or backends to use, e.g. {@code -Dkvbm.backends=system,cuda}. */
    public static final String SELECTION_PROPERTY = "kvbm.backends";

    /** Prefix of the properties that choose a storage provider per kind: {@code -Dkvbm.provider.system=NAME}. */
    public static final String PROVIDER_CHOICE_PREFIX = "kvbm.provider.";

    /** Prefix of the properties that choose an executor per pair: {@code -Dkvbm.executor.system.disk=NAME}. */
    public static final String EXECUTOR_CHOICE_PREFIX = "kvbm.executor.";

    /** Package prefix of the providers this project ships, which come before other providers of the same kind. */
    static final String REFERENCE_PACKAGE = "dev.kvbm.backend.";

    private static final System.Logger LOG = System.getLogger(Backends.class.getName());

    private final List<StorageProvider> storageProviders;
    private final List<TransferExecutorProvider> executorProviders;
    private final List<AgentProvider> agentProviders;
    private final List<ProviderStatus> report;
    /** Kind key to the storage provider chosen for it. */
    private final java.util.Map<String, String> storageChoices;
    /** "FROM.TO" kind keys to the executor provider chosen for the pair. */
    private final java.util.Map<String, String> executorChoices;

    private Backends(List<StorageProvider> storage, List<TransferExecutorProvider> executors,
                     List<AgentProvider> agents, List<ProviderStatus> report,
                     java.util.Map<String, String> storageChoices, java.util.Map<String, String> executorChoices) {
        this.storageProviders = List.copyOf(storage);
        this.executorProviders = List.copyOf(executors);
        this.agentProviders = List.copyOf(agents);
        this.report = List.copyOf(report);
        this.storageChoices = java.util.Map.copyOf(storageChoices);
        this.executorChoices = java.util.Map.copyOf(executorChoices);
        for (var choice : this.storageChoices.entrySet()) {
            checkStorageChoice(choice.getKey(), choice.getValue());
        }
        for (var choice : this.executorChoices.entrySet()) {
            checkExecutorChoice(choice.getKey(), choice.getValue());
        }
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
     * Discovers providers visible to {@code loader}, with the choices of {@link #PROVIDER_CHOICE_PREFIX} and
     * {@link #EXECUTOR_CHOICE_PREFIX} read from the system properties.
     *
     * @param loader    the class loader whose service configuration and module layer are searched
     * @param selection provider or backend names to use; empty means all
     * @return newly discovered providers
     * @throws IllegalStateException when a selected name matches no provider found, or a choice names no selected
     *                               provider of its kind
     */
    public static Backends load(ClassLoader loader, Set<String> selection) {
        return load(loader, selection, System.getProperties());
    }

    /** {@link #load(ClassLoader, Set)} with the choices read from {@code properties}. */
    static Backends load(ClassLoader loader, Set<String> selection, java.util.Properties properties) {
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
        return create(storage, executors, agents, report, properties);
    }

    /**
     * Providers given explicitly, ordered and chosen exactly as discovery orders and chooses them (see the class
     * comment): for an application or a test that builds its providers itself but wants the JVM's rules, the
     * choices of {@code -Dkvbm.provider.*} and {@code -Dkvbm.executor.*} included. Logs each contested kind once,
     * as {@link #load()} does.
     *
     * @param storage   storage providers, in any order
     * @param executors transfer executor providers, in any order
     * @param agents    agent providers, in any order
     * @return the providers
     * @throws IllegalStateException when a choice names no given provider of its kind
     */
    public static Backends asDiscovered(List<? extends StorageProvider> storage,
                                        List<? extends TransferExecutorProvider> executors,
                                        List<? extends AgentProvider> agents) {
        Backends given = of(storage, executors, agents);
        return create(given.storageProviders, given.executorProviders, given.agentProviders, given.report,
                System.getProperties());
    }

    private static Backends create(List<StorageProvider> storage, List<TransferExecutorProvider> executors,
                                   List<AgentProvider> agents, List<ProviderStatus> report,
                                   java.util.Properties properties) {
        java.util.Map<String, String> storageChoices = new java.util.TreeMap<>();
        java.util.Map<String, String> executorChoices = new java.util.TreeMap<>();
        for (String key : properties.stringPropertyNames()) {
            String value = properties.getProperty(key).trim();
            if (key.startsWith(PROVIDER_CHOICE_PREFIX)) {
                storageChoices.put(key.substring(PROVIDER_CHOICE_PREFIX.length()), value);
            } else if (key.startsWith(EXECUTOR_CHOICE_PREFIX)) {
                executorChoices.put(key.substring(EXECUTOR_CHOICE_PREFIX.length()), value);
            }
        }
        Backends backends;
        try {
            backends = new Backends(ordered(storage), ordered(executors), ordered(agents), report, storageChoices,
                    executorChoices);
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
        backends.log();
        return backends;
    }

    /** Reference providers first, then the others; by name within each. */
    private static <P extends BackendProvider> List<P> ordered(List<P> providers) {
        List<P> sorted = new ArrayList<>(providers);
        sorted.sort(Comparator.comparing((P p) -> !isReference(p)).thenComparing(BackendProvider::name));
        return sorted;
    }

    /** True for a provider this project ships (package {@code dev.kvbm.backend.*}). */
    private static boolean isReference(BackendProvider provider) {
        return provider.getClass().getPackageName().startsWith(REFERENCE_PACKAGE);
    }

    /**
     * These providers with {@code provider} serving storage of {@code kind}'s key (every device for a device kind):
     * the builder equivalent of {@code -Dkvbm.provider.KIND=NAME}.
     *
     * @param kind     the kind, e.g. {@link StorageKind#SYSTEM}
     * @param provider a selected storage provider's name that allocates it
     * @return new backends with the choice; this instance is unchanged
     * @throws IllegalArgumentException when no selected provider of that name allocates the kind
     */
    public Backends choose(StorageKind kind, String provider) {
        java.util.Map<String, String> choices = new java.util.TreeMap<>(storageChoices);
        choices.put(kind.key(), java.util.Objects.requireNonNull(provider, "provider"));
        return new Backends(storageProviders, executorProviders, agentProviders, report, choices, executorChoices);
    }

    /**
     * These providers with {@code executor} copying {@code source} to {@code destination}: the builder equivalent of
     * {@code -Dkvbm.executor.FROM.TO=NAME}.
     *
     * @param source      the kind copied from
     * @param destination the kind copied to
     * @param executor    a selected executor provider's name that copies the pair
     * @return new backends with the choice; this instance is unchanged
     * @throws IllegalArgumentException when no selected executor of that name copies the pair
     */
    public Backends chooseExecutor(StorageKind source, StorageKind destination, String executor) {
        java.util.Map<String, String> choices = new java.util.TreeMap<>(executorChoices);
        choices.put(source.key() + "." + destination.key(), java.util.Objects.requireNonNull(executor, "executor"));
        return new Backends(storageProviders, executorProviders, agentProviders, report, storageChoices, choices);
    }

    private void checkStorageChoice(String key, String name) {
        StorageProvider p = storageProviders.stream().filter(x -> x.name().equals(name)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException(String.format(Locale.ROOT,
                        "-D%s%s=%s names no selected storage provider; selected: %s", PROVIDER_CHOICE_PREFIX, key, name,
                        storageProviders.stream().map(BackendProvider::name).toList())));
        if (p.kinds().stream().noneMatch(k -> k.key().equals(key))) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "-D%s%s=%s: %s does not allocate %s storage (it allocates %s); the kind is one of system, pinned,"
                            + " device, disk or a vendor kind's name", PROVIDER_CHOICE_PREFIX, key, name, name, key,
                    p.kinds().stream().map(StorageKind::key).toList()));
        }
    }

    private void checkExecutorChoice(String pair, String name) {
        String[] ends = pair.split("\\.", -1);
        if (ends.length != 2 || ends[0].isEmpty() || ends[1].isEmpty()) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "-D%s%s: the property names a pair of kinds as FROM.TO, e.g. -D%ssystem.disk=system-copy",
                    EXECUTOR_CHOICE_PREFIX, pair, EXECUTOR_CHOICE_PREFIX));
        }
        TransferExecutorProvider p = executorProviders.stream().filter(x -> x.name().equals(name)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException(String.format(Locale.ROOT,
                        "-D%s%s=%s names no selected executor provider; selected: %s", EXECUTOR_CHOICE_PREFIX, pair,
                        name, executorProviders.stream().map(BackendProvider::name).toList())));
        boolean copies = knownKinds().stream().filter(k -> k.key().equals(ends[0]))
                .anyMatch(s -> knownKinds().stream().filter(k -> k.key().equals(ends[1])).anyMatch(d -> p.supports(s, d)));
        if (!copies) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "-D%s%s=%s: %s does not copy %s -> %s", EXECUTOR_CHOICE_PREFIX, pair, name, name, ends[0], ends[1]));
        }
    }

    /**
     * {@return every kind a selected storage provider declares, built-in kinds first: the kinds the runner, the
     * choices and the log consider}
     */
    public List<StorageKind> knownKinds() {
        Set<StorageKind> kinds = new LinkedHashSet<>(List.of(StorageKind.SYSTEM, StorageKind.PINNED,
                StorageKind.device(0), StorageKind.disk(0)));
        for (StorageProvider p : storageProviders) {
            kinds.addAll(p.kinds());
        }
        return List.copyOf(kinds);
    }

    /**
     * Which provider serves each kind, and each pair of kinds, that more than one selected, available provider
     * offers; what {@link #load()} logs.
     *
     * @return one entry per contested kind or pair, in the order kinds are known
     */
    public List<Choice> choices() {
        List<Choice> choices = new ArrayList<>();
        for (StorageKind kind : knownKinds()) {
            List<StorageProvider> offering = servingFirst(storageCandidates(kind),
                    storageProviders.stream().filter(p -> p.supports(kind)).toList());
            if (offering.size() > 1) {
                String why = storageChoices.containsKey(kind.key()) ? "chosen with -D" + PROVIDER_CHOICE_PREFIX + kind.key()
                        : (kind.isVendor() ? "it declares the vendor kind" : reason(offering.getFirst()))
                        + "; choose another with -D" + PROVIDER_CHOICE_PREFIX + kind.key() + "=NAME";
                choices.add(new Choice("storage of kind " + kind, names(offering), offering.getFirst().name(), why));
            }
        }
        for (StorageKind from : knownKinds()) {
            for (StorageKind to : knownKinds()) {
                List<TransferExecutorProvider> offering = servingFirst(executorCandidates(from, to),
                        executorProviders.stream().filter(p -> p.supports(from, to)).toList());
                if (offering.size() > 1) {
                    String key = from.key() + "." + to.key();
                    String why = executorChoices.containsKey(key) ? "chosen with -D" + EXECUTOR_CHOICE_PREFIX + key
                            : (declaresVendorKind(offering.getFirst().backend(), from, to)
                            ? "its backend declares the vendor kind" : reason(offering.getFirst()))
                            + "; choose another with -D" + EXECUTOR_CHOICE_PREFIX + key + "=NAME";
                    choices.add(new Choice("copies " + from + " -> " + to, names(offering), offering.getFirst().name(),
                            why));
                }
            }
        }
        return choices;
    }

    /** The available providers that offer something, the one that serves it first. */
    private static <P extends BackendProvider> List<P> servingFirst(List<P> candidates, List<P> offering) {
        List<P> available = new ArrayList<>(offering.stream().filter(BackendProvider::isAvailable).toList());
        candidates.stream().filter(BackendProvider::isAvailable).findFirst().ifPresent(serving -> {
            available.remove(serving);
            available.addFirst(serving);
        });
        return available;
    }

    private static List<String> names(List<? extends BackendProvider> providers) {
        return providers.stream().map(BackendProvider::name).toList();
    }

    private static String reason(BackendProvider winner) {
        return isReference(winner) ? "a provider this project ships comes before others, then by name"
                : "no provider this project ships offers it; the first by name";
    }
    /**
     * Which provider serves a kind or a pair, among several.
     *
     * @param what       the kind or pair, e.g. {@code storage of kind System}
     * @param candidates the selected, available providers that offer it, the one that serves first
     * @param chosen     the one that serves it
     * @param why        why that one
     */
    public record Choice(String what, List<String> candidates, String chosen, String why) {
        @Override
        public String toString() {
            return String.format(Locale.ROOT, "%s is offered by %s; %s serves it (%s)", what, candidates, chosen, why);
        }
    }

    /** Selected providers that allocate {@code kind}, in the order they are tried. */
    private List<StorageProvider> storageCandidates(StorageKind kind) {
        String chosen = storageChoices.get(kind.key());
        if (chosen != null) {
            return storageProviders.stream().filter(p -> p.name().equals(chosen)).toList();
        }
        List<StorageProvider> fit = new ArrayList<>(storageProviders.stream().filter(p -> p.supports(kind)).toList());
        if (kind.isVendor()) {
            fit.sort(Comparator.comparing((StorageProvider p) -> p.kinds().stream()
                    .noneMatch(k -> k.vendor().equals(kind.vendor()))));
        }
        return fit;
    }

    /** Selected executors that copy {@code from} to {@code to}, in the order they are tried. */
    private List<TransferExecutorProvider> executorCandidates(StorageKind from, StorageKind to) {
        String chosen = executorChoices.get(from.key() + "." + to.key());
        if (chosen != null) {
            return executorProviders.stream().filter(p -> p.name().equals(chosen)).toList();
        }
        List<TransferExecutorProvider> fit = new ArrayList<>(executorProviders.stream()
                .filter(p -> p.supports(from, to)).toList());
        if (from.isVendor() || to.isVendor()) {
            fit.sort(Comparator.comparing((TransferExecutorProvider p) -> !declaresVendorKind(p.backend(), from, to)));
        }
        return fit;
    }

    /** True when a storage provider of {@code backend} declares the vendor kind of {@code from} or {@code to}. */
    private boolean declaresVendorKind(String backend, StorageKind from, StorageKind to) {
        return storageProviders.stream().filter(p -> p.backend().equals(backend)).flatMap(p -> p.kinds().stream())
                .anyMatch(k -> k.isVendor() && (k.vendor().equals(from.vendor()) || k.vendor().equals(to.vendor())));
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
        return new Backends(List.copyOf(storage), List.copyOf(executors), List.copyOf(agents), report,
                java.util.Map.of(), java.util.Map.of());
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

    /** {@return selected storage providers, available or not, in the order they are tried (see the class comment)} */
    public List<StorageProvider> storageProviders() {
        return storageProviders;
    }

    /** {@return selected executor providers, available or not, in the order they are tried} */
    public List<TransferExecutorProvider> executorProviders() {
        return executorProviders;
    }

    /** {@return selected agent providers, available or not, in the order they are tried} */
    public List<AgentProvider> agentProviders() {
        return agentProviders;
    }

    /** {@return one line per provider found (selected or not) and per provider that failed to load} */
    public List<ProviderStatus> report() {
        return report;
    }

    /**
     * The provider that serves {@code kind}: the one chosen for it, else the first selected, available one in the
     * order of the class comment.
     *
     * @param kind the storage kind to allocate
     * @return the provider
     * @throws UnsupportedOperationException when none does; the message lists what was found and why it cannot serve
     */
    public StorageProvider storageProvider(StorageKind kind) {
        return pick(storageProviders, storageCandidates(kind), p -> p.supports(kind), "storage of kind " + kind,
                storageChoices.get(kind.key()), PROVIDER_CHOICE_PREFIX + kind.key());
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
        String pair = source.key() + "." + destination.key();
        return pick(executorProviders, executorCandidates(source, destination), p -> p.supports(source, destination),
                "copies " + source + " -> " + destination, executorChoices.get(pair), EXECUTOR_CHOICE_PREFIX + pair);
    }

    /**
     * Looks up the executor provider for a pair of kinds without failing when none copies it.
     *
     * @param source      the kind copied from
     * @param destination the kind copied to
     * @return the provider, or empty when none is selected and available
     * @throws UnsupportedOperationException when an executor was chosen for the pair and cannot serve it (unavailable,
     *                                       or it does not copy these kinds): an explicit choice never falls back
     */
    public Optional<TransferExecutorProvider> findExecutorProvider(StorageKind source, StorageKind destination) {
        if (executorChoices.containsKey(source.key() + "." + destination.key())) {
            return Optional.of(executorProvider(source, destination)); // a choice never falls back to none
        }
        return executorCandidates(source, destination).stream().filter(BackendProvider::isAvailable).findFirst();
    }

    /**
     * The selected, available agent provider called {@code name}.
     *
     * @param name the provider's name, e.g. {@code local} or {@code ucx}
     * @return the provider
     * @throws UnsupportedOperationException when there is none
     */
    public AgentProvider agentProvider(String name) {
        return pick(agentProviders, agentProviders, p -> p.name().equals(name), "an agent named '" + name + "'", null,
                null);
    }

    /**
     * The first of {@code candidates} that fits and is available; {@code chosen} (or null) names the provider the
     * property {@code -D<property>} chose, which the message then names.
     */
    private static <P extends BackendProvider> P pick(List<P> providers, List<P> candidates,
                                                     java.util.function.Predicate<P> fits, String what, String chosen,
                                                     String property) {
        List<String> reasons = new ArrayList<>();
        if (chosen != null) {
            reasons.add(chosen + " was chosen for it (-D" + property + ", or Backends.choose)"
                    + (candidates.stream().anyMatch(fits) ? "" : " and does not provide it"));
        }
        for (P p : candidates) {
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
        found.sort(Comparator.comparing(BackendProvider::name)); // the report's order; ordered() then ranks them
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
        // Said at INFO when a third party's provider is among those offering (adding a jar is what must not go
        // unnoticed) or the choice was explicit; among this project's own providers the order is documented: DEBUG.
        java.util.Set<String> thirdParty = java.util.stream.Stream.of(storageProviders, executorProviders)
                .flatMap(List::stream).filter(p -> !isReference(p)).map(BackendProvider::name)
                .collect(Collectors.toSet());
        for (Choice c : choices()) {
            boolean notable = c.why().startsWith("chosen") || c.candidates().stream().anyMatch(thirdParty::contains);
            LOG.log(notable ? System.Logger.Level.INFO : System.Logger.Level.DEBUG, c.toString());
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
