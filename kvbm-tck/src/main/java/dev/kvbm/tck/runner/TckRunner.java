package dev.kvbm.tck.runner;

import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.AgentProvider;
import dev.kvbm.api.spi.Backends;
import dev.kvbm.api.spi.StorageProvider;
import dev.kvbm.api.spi.TransferExecutorProvider;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.engine.support.descriptor.MethodSource;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;

import java.io.IOException;
import java.lang.module.ResolvedModule;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

/**
 * Runs the kit against every backend on the module path: {@code java -p <modules> -m dev.kvbm.tck
 * [--report DIR] [--backends NAME,...]}. Each available or unavailable provider becomes one or more
 * {@link Subject}s (a storage provider per kind it allocates, an executor per pair of kinds it copies, an agent);
 * their verifications run on the JUnit Platform; the runner prints one line per subject × rule, writes
 * {@code DIR/TEST-kvbm-tck.xml} (default DIR: {@code tck-report}) and exits with the codes of {@link #USAGE}.
 */
public final class TckRunner {

    private TckRunner() {
    }

    /** Usage text of {@code --help}. */
    static final String USAGE = """
            usage: java -p <kvbm-tck and its modules>:<backend jars> -m dev.kvbm.tck [options]
              --jar PATH          a backend jar under test (repeatable): it must be on the module path and
                                  provide at least one storage, executor or agent provider
              --backends NAME,... verify only these providers or backends (same as -Dkvbm.backends)
              --report DIR        where TEST-kvbm-tck.xml goes (default: tck-report)
              -h, --help          print this and run nothing
            Exit codes: 0 every rule verified passed or was skipped with its reason; 1 a rule failed;
            2 nothing was verified (no backend, or every rule skipped), or a --jar is missing or provides
            nothing; 64 bad usage.""";

    public static void main(String[] args) throws IOException {
        System.exit(execute(args, System.out, System.err));
    }

    /** Runs the runner as {@link #main} does and returns its exit code instead of exiting. */
    public static int execute(String[] args, PrintStream out, PrintStream err) throws IOException {
        Path report = Path.of("tck-report");
        String selection = System.getProperty(Backends.SELECTION_PROPERTY);
        List<Path> jars = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "-h", "--help" -> {
                    out.println(USAGE);
                    return 0;
                }
                case "--report", "--backends", "--jar" -> {
                    if (i + 1 >= args.length) {
                        err.println("kvbm-tck: " + args[i] + " needs a value; try --help");
                        return 64;
                    }
                    String value = args[++i];
                    switch (args[i - 1]) {
                        case "--report" -> report = Path.of(value);
                        case "--backends" -> selection = value;
                        default -> jars.add(Path.of(value));
                    }
                }
                default -> {
                    err.println("kvbm-tck: unknown argument '" + args[i] + "'; try --help");
                    return 64;
                }
            }
        }
        for (Path jar : jars) {
            if (!Files.isRegularFile(jar)) {
                err.println("kvbm-tck: " + jar + ": no such jar");
                return 2;
            }
        }
        Backends backends;
        try {
            backends = Backends.load(TckRunner.class.getClassLoader(), Backends.parseSelection(selection));
        } catch (IllegalStateException e) {
            err.println("kvbm-tck: " + e.getMessage());
            return 2;
        }
        out.println("kvbm-tck: providers found");
        for (Backends.ProviderStatus status : backends.report()) {
            out.println("  " + status);
        }
        for (Path jar : jars) {
            Optional<String> problem = contributes(jar, backends);
            if (problem.isPresent()) {
                err.println("kvbm-tck: " + problem.get());
                return 2;
            }
        }
        List<Subject> subjects = subjects(backends);
        if (subjects.isEmpty()) {
            err.println("kvbm-tck: no backend providers on the module path; nothing to verify. Put a backend's jar"
                    + " on the module path (scripts/tck path/to/backend.jar)");
            return 2;
        }
        List<Result> results = verify(backends, subjects);
        printTable(results, out);
        Path file = writeReport(results, report);
        out.println("kvbm-tck: JUnit XML report written to " + file.toAbsolutePath());
        if (results.stream().anyMatch(r -> r.status() == Result.Status.FAILED)) {
            return 1;
        }
        if (results.stream().noneMatch(r -> r.status() == Result.Status.PASSED)) {
            err.println("kvbm-tck: every rule was skipped; nothing was verified (see the reasons above)");
            return 2;
        }
        return 0;
    }

    /** Empty when {@code jar} is a module on the module path that provides one of the discovered providers. */
    private static Optional<String> contributes(Path jar, Backends backends) {
        Path wanted = jar.toAbsolutePath().normalize();
        Set<String> modules = new TreeSet<>();
        for (ResolvedModule m : ModuleLayer.boot().configuration().modules()) {
            Optional<java.net.URI> location = m.reference().location();
            if (location.isPresent() && "file".equals(location.get().getScheme())
                    && Path.of(location.get()).toAbsolutePath().normalize().equals(wanted)) {
                modules.add(m.name());
            }
        }
        if (modules.isEmpty()) {
            return Optional.of(jar + " is not on the runner's module path; run the kit with -p ...:" + jar
                    + " (scripts/tck adds the jars it is given)");
        }
        List<Object> providers = new ArrayList<>(backends.storageProviders());
        providers.addAll(backends.executorProviders());
        providers.addAll(backends.agentProviders());
        boolean any = providers.stream().anyMatch(p -> modules.contains(p.getClass().getModule().getName()));
        if (!any) {
            return Optional.of(String.format(Locale.ROOT, "%s (module %s) provides no StorageProvider,"
                    + " TransferExecutorProvider or AgentProvider that was selected; declare them with 'provides' in"
                    + " its module-info", jar, String.join(", ", modules)));
        }
        return Optional.empty();
    }

    /**
     * What to verify among the selected providers of {@code backends}: each storage provider for every kind it
     * declares ({@link StorageProvider#kinds()}), each executor for every pair of known kinds it claims to copy, over
     * every combination of storage of its own backend and of the system backend (the reference) — never of a third
     * party, so a failure is the executor's — and each agent over System memory. A subject whose storage is missing
     * or unavailable is still a subject: its rules are skipped with the reason, never absent from the table.
     */
    public static List<Subject> subjects(Backends backends) {
        List<Subject> subjects = new ArrayList<>();
        for (StorageProvider p : backends.storageProviders()) {
            List<StorageKind> kinds = p.kinds();
            for (StorageKind kind : kinds.isEmpty() ? List.of(StorageKind.SYSTEM) : kinds) {
                subjects.add(new Subject(p.name() + " (" + kind + ")", DiscoveredStorageVerification.class, p, kind,
                        null, null, null, null));
            }
        }
        List<StorageKind> known = backends.knownKinds();
        for (TransferExecutorProvider p : backends.executorProviders()) {
            for (StorageKind s : known) {
                for (StorageKind d : known) {
                    if (!p.supports(s, d)) {
                        continue;
                    }
                    List<StorageProvider> from = storage(backends, s, p.backend());
                    List<StorageProvider> to = storage(backends, d, p.backend());
                    for (StorageProvider f : from.isEmpty() ? java.util.Collections.<StorageProvider>singletonList(null) : from) {
                        for (StorageProvider t : to.isEmpty() ? java.util.Collections.<StorageProvider>singletonList(null) : to) {
                            subjects.add(new Subject(String.format(Locale.ROOT, "%s (%s %s -> %s %s)", p.name(),
                                    f == null ? "none" : f.name(), s, t == null ? "none" : t.name(), d),
                                    DiscoveredExecutorVerification.class, f, s, t, d, p, null));
                        }
                    }
                }
            }
        }
        for (AgentProvider p : backends.agentProviders()) {
            List<StorageProvider> memory = storage(backends, StorageKind.SYSTEM, p.backend());
            subjects.add(new Subject(p.name(), DiscoveredAgentVerification.class,
                    memory.stream().filter(StorageProvider::isAvailable).findFirst().orElse(null), StorageKind.SYSTEM,
                    null, null, null, p));
        }
        return subjects;
    }

    /** The backend of a provider that supplies reference storage to other backends' executors and agents. */
    static final String REFERENCE_BACKEND = "system";

    /** Providers of storage of {@code kind} from {@code backend} itself, then from the reference backend. */
    private static List<StorageProvider> storage(Backends backends, StorageKind kind, String backend) {
        return backends.storageProviders().stream()
                .filter(p -> p.kinds().contains(kind) || p.supports(kind))
                .filter(p -> p.backend().equals(backend) || p.backend().equals(REFERENCE_BACKEND))
                .sorted(java.util.Comparator.comparing((StorageProvider p) -> !p.backend().equals(backend)))
                .toList();
    }

    /**
     * Verifies every subject of {@code backends}, as the command line does: the same rules, parameters and rows.
     *
     * @param backends the providers to verify (discovered, or given with {@link Backends#of})
     * @return a result per subject × rule
     */
    public static List<Result> verify(Backends backends) {
        return verify(backends, subjects(backends));
    }

    private static List<Result> verify(Backends backends, List<Subject> subjects) {
        Reach.backends = backends;
        try {
            return run(subjects);
        } finally {
            Reach.closeAll();
            Reach.backends = null;
        }
    }

    /** Runs each subject's verification, one subject at a time. */
    public static List<Result> run(List<Subject> subjects) {
        List<Result> results = new ArrayList<>();
        for (Subject subject : subjects) {
            Subject.set(subject);
            try {
                results.addAll(runClass(subject.label(), subject.verification()));
            } finally {
                Subject.set(null);
            }
        }
        return results;
    }

    /** Runs one verification class (a backend's subclass, or a discovered one) and returns a result per rule. */
    public static List<Result> runClass(String label, Class<?> verification) {
        LauncherDiscoveryRequest request = LauncherDiscoveryRequestBuilder.request()
                .selectors(selectClass(verification)).build();
        Launcher launcher = LauncherFactory.create();
        Collector collector = new Collector(label);
        launcher.execute(request, collector);
        List<Result> results = new ArrayList<>(collector.results);
        results.sort((a, b) -> RuleOrder.compare(a.rule(), b.rule()));
        return results;
    }

    /** Writes {@code TEST-kvbm-tck.xml} (JUnit XML, one suite per subject) into {@code directory}. */
    public static Path writeReport(List<Result> results, Path directory) throws IOException {
        return JUnitXml.write(results, directory);
    }

    /** Prints one line per subject × rule, then a summary. */
    public static void printTable(List<Result> results, PrintStream out) {
        int subjectWidth = Math.max(7, results.stream().mapToInt(r -> r.subject().length()).max().orElse(0));
        int ruleWidth = Math.max(4, results.stream().mapToInt(r -> r.rule().length()).max().orElse(0));
        String format = "%-" + subjectWidth + "s | %-" + ruleWidth + "s | %s%n";
        out.printf(Locale.ROOT, format, "backend", "rule", "result");
        out.println("-".repeat(subjectWidth) + "-+-" + "-".repeat(ruleWidth) + "-+-" + "-".repeat(40));
        for (Result r : results) {
            String outcome = switch (r.status()) {
                case PASSED -> "passed";
                case FAILED -> "FAILED: " + oneLine(r.message());
                case SKIPPED -> "skipped: " + oneLine(r.message());
            };
            out.printf(Locale.ROOT, format, r.subject(), r.rule(), outcome);
        }
        Map<Result.Status, Long> counts = new java.util.EnumMap<>(Result.Status.class);
        for (Result r : results) {
            counts.merge(r.status(), 1L, Long::sum);
        }
        out.printf(Locale.ROOT, "kvbm-tck: %d passed, %d failed, %d skipped%n", counts.getOrDefault(Result.Status.PASSED, 0L),
                counts.getOrDefault(Result.Status.FAILED, 0L), counts.getOrDefault(Result.Status.SKIPPED, 0L));
    }

    private static String oneLine(String message) {
        String line = message.replaceAll("\\s+", " ").trim();
        return line.length() > 220 ? line.substring(0, 217) + "..." : line;
    }

    /** Collects a result per test method. */
    private static final class Collector implements TestExecutionListener {
        private final String label;
        private final List<Result> results = Collections.synchronizedList(new ArrayList<>());
        private final Map<String, Long> started = new ConcurrentHashMap<>();

        Collector(String label) {
            this.label = label;
        }

        @Override
        public void executionStarted(TestIdentifier id) {
            started.put(id.getUniqueId(), System.nanoTime());
        }

        @Override
        public void executionSkipped(TestIdentifier id, String reason) {
            if (id.isTest()) {
                results.add(new Result(label, rule(id), Result.Status.SKIPPED, reason, 0));
            }
        }

        @Override
        public void executionFinished(TestIdentifier id, TestExecutionResult result) {
            Long start = started.remove(id.getUniqueId());
            double seconds = start == null ? 0 : (System.nanoTime() - start) / 1e9;
            if (!id.isTest()) {
                // A failure outside any test (a constructor, @AfterEach of a container) fails every rule silently
                // otherwise; report it as its own row.
                if (result.getStatus() == TestExecutionResult.Status.FAILED) {
                    results.add(new Result(label, id.getDisplayName(), Result.Status.FAILED, message(result), seconds));
                }
                return;
            }
            Result.Status status = switch (result.getStatus()) {
                case SUCCESSFUL -> Result.Status.PASSED;
                case ABORTED -> Result.Status.SKIPPED;
                case FAILED -> Result.Status.FAILED;
            };
            results.add(new Result(label, rule(id), status, status == Result.Status.PASSED ? "" : message(result),
                    seconds));
        }

        private static String rule(TestIdentifier id) {
            return id.getSource().filter(MethodSource.class::isInstance).map(s -> ((MethodSource) s).getMethodName())
                    .orElse(id.getDisplayName());
        }

        private static String message(TestExecutionResult result) {
            return result.getThrowable().map(t -> {
                String m = t.getMessage();
                if (m == null || m.isBlank()) {
                    return t.getClass().getName();
                }
                return m.startsWith("Assumption failed: ") ? m.substring("Assumption failed: ".length()) : m;
            }).orElse("");
        }
    }
}
