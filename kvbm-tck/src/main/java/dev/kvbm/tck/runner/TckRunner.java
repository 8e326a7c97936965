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
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

/**
 * Runs the kit against every backend on the module path: {@code java -p <modules> -m dev.kvbm.tck
 * [--report DIR] [--backends NAME,...]}. Each available or unavailable provider becomes one or more
 * {@link Subject}s (a storage provider per kind it allocates, an executor per pair of kinds it copies, an agent);
 * their verifications run on the JUnit Platform; the runner prints one line per subject × rule, writes
 * {@code DIR/TEST-kvbm-tck.xml} (default DIR: {@code tck-report}) and exits 1 if any rule failed, 2 if no backend
 * was found, 0 otherwise.
 */
public final class TckRunner {

    /** The kinds the runner tries each provider with. */
    static final List<StorageKind> KINDS = List.of(StorageKind.SYSTEM, StorageKind.PINNED, StorageKind.device(0),
            StorageKind.disk(0));

    private TckRunner() {
    }

    public static void main(String[] args) throws IOException {
        Path report = Path.of("tck-report");
        String selection = System.getProperty(Backends.SELECTION_PROPERTY);
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--report" -> report = Path.of(value(args, ++i, "--report"));
                case "--backends" -> selection = value(args, ++i, "--backends");
                case "-h", "--help" -> {
                    System.out.println("usage: java -p <module path> -m dev.kvbm.tck [--report DIR] [--backends NAME,...]");
                    return;
                }
                default -> {
                    System.err.println("unknown argument '" + args[i] + "'; try --help");
                    System.exit(64);
                }
            }
        }
        Backends backends = Backends.load(TckRunner.class.getClassLoader(), Backends.parseSelection(selection));
        List<Subject> subjects = subjects(backends);
        PrintStream out = System.out;
        out.println("kvbm-tck: providers found");
        for (Backends.ProviderStatus status : backends.report()) {
            out.println("  " + status);
        }
        if (subjects.isEmpty()) {
            out.println("kvbm-tck: no backend providers on the module path; nothing to verify");
            System.exit(2);
        }
        List<Result> results = run(subjects);
        printTable(results, out);
        Path file = writeReport(results, report);
        out.println("kvbm-tck: JUnit XML report written to " + file.toAbsolutePath());
        System.exit(results.stream().anyMatch(r -> r.status() == Result.Status.FAILED) ? 1 : 0);
    }

    private static String value(String[] args, int i, String option) {
        if (i >= args.length) {
            System.err.println(option + " needs a value");
            System.exit(64);
        }
        return args[i];
    }

    /** What to verify among the selected providers of {@code backends}. */
    public static List<Subject> subjects(Backends backends) {
        List<Subject> subjects = new ArrayList<>();
        for (StorageProvider p : backends.storageProviders()) {
            List<StorageKind> kinds = KINDS.stream().filter(p::supports).toList();
            for (StorageKind kind : kinds.isEmpty() ? List.of(StorageKind.SYSTEM) : kinds) {
                subjects.add(new Subject(p.name() + " (" + kind + ")", DiscoveredStorageVerification.class, p, kind,
                        null, null, null, null));
            }
        }
        for (TransferExecutorProvider p : backends.executorProviders()) {
            for (StorageKind s : KINDS) {
                for (StorageKind d : KINDS) {
                    // A pair whose memory no provider on the module path allocates cannot be verified here.
                    if (p.supports(s, d) && storage(backends, s).isPresent() && storage(backends, d).isPresent()) {
                        subjects.add(new Subject(p.name() + " (" + s + " -> " + d + ")",
                                DiscoveredExecutorVerification.class, storage(backends, s).orElseThrow(), s,
                                storage(backends, d).orElseThrow(), d, p, null));
                    }
                }
            }
        }
        for (AgentProvider p : backends.agentProviders()) {
            subjects.add(new Subject(p.name(), DiscoveredAgentVerification.class,
                    storage(backends, StorageKind.SYSTEM).orElse(null), StorageKind.SYSTEM, null, null, null, p));
        }
        return subjects;
    }

    private static Optional<StorageProvider> storage(Backends backends, StorageKind kind) {
        return backends.storageProviders().stream().filter(StorageProvider::isAvailable).filter(p -> p.supports(kind))
                .findFirst();
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
