package dev.kvbm.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * {@code kvbm demo}: disaggregated prefill and decode on one machine. A prefill worker process computes the KV of
 * seeded requests that share prefixes, under a small first tier (so blocks go down to host memory and disk); a
 * decode worker process finds it through discovery, imports where its blocks are, and serves the same requests:
 * from its own tiers, from the prefill worker's memory over UCX, or by computing — checking every byte it did not
 * compute. Prints a summary; exit 0 only when every byte verified and both workers stopped cleanly.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Prefill and decode workers (two JVMs, UCX between them) serving seeded requests that share"
                + " prefixes; every byte verified.",
        footerHeading = "%nExit codes:%n", footer = {"  0   every byte verified, both workers stopped cleanly",
                "  1   a block failed to verify, or a worker failed or was lost", "  64  bad usage"})
final class Demo implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--requests", defaultValue = "200", description = "requests (default ${DEFAULT-VALUE})")
    int requests;

    @Option(names = "--prefixes", defaultValue = "8", description = "shared prompt prefixes (default ${DEFAULT-VALUE})")
    int prefixes;

    @Option(names = "--seed", defaultValue = "42", description = "seed of the workload (default ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--json", description = "print the summary as one JSON line")
    boolean json;

    @Option(names = "--etcd", paramLabel = "URLS", description = "find workers through etcd at URLS instead of the"
            + " embedded registry (needs kvbm-discovery-etcd)")
    String etcd;

    @Option(names = "--nats", paramLabel = "URLS", description = "the prefill worker publishes its KV events to NATS at"
            + " URLS; the decode worker follows them with a KV index and checks it on every request")
    String nats;

    @Option(names = "--corrupt-block", paramLabel = "N", defaultValue = "-1", hidden = true,
            description = "for testing: the prefill worker corrupts its N-th computed block")
    int corruptBlock;

    @Option(names = "--kill-decode-after", paramLabel = "N", defaultValue = "-1", hidden = true,
            description = "for testing: kill the decode worker (SIGKILL) after N requests")
    int killDecodeAfter;

    @Override
    public Integer call() throws Exception {
        if (requests < 1 || prefixes < 1) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--requests and --prefixes must be at least 1");
        }
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Path work = Files.createTempDirectory("kvbm-demo");
        Worker prefill = null;
        Worker decode = null;
        try {
            String discovery = etcd == null ? "embedded" : "etcd";
            String endpoints = etcd == null ? "-" : etcd;
            info(out, "kvbm demo: " + requests + " requests over " + prefixes + " shared prefixes (seed " + seed
                    + "), blocks of " + DemoContent.SHAPE.blockBytes() / 1024 + " KiB; discovery: " + discovery);
            String natsArg = nats == null ? "-" : nats;
            prefill = Worker.start("prefill", work, seed, requests, prefixes, corruptBlock, discovery, endpoints,
                    natsArg);
            String ready = prefill.await("READY", 300);
            info(out, "prefill worker (pid " + prefill.process.pid() + "): " + ready.substring(6));
            decode = Worker.start("decode", work, seed, requests, prefixes, -1, discovery, endpoints, natsArg);
            String found = decode.await("FOUND", 120);
            info(out, "decode worker (pid " + decode.process.pid() + "): " + found.substring(6));
            String summaryLine = null;
            int done = 0;
            while (summaryLine == null) {
                String line = decode.next(300);
                if (line == null) {
                    break;
                }
                if (line.startsWith("REQ ")) {
                    done++;
                    progress(out, done);
                    if (done == killDecodeAfter) {
                        prefill.await("DECODE-JOINED", 30); // the prefill worker knows the decode worker by now
                        decode.process.destroyForcibly();
                        info(out, "decode worker killed (SIGKILL) after " + done + " requests, as asked");
                        String lost = prefill.await("DECODE-LOST", 60);
                        err.println("kvbm demo: the decode worker was lost after " + done + " of " + requests
                                + " requests; the prefill worker noticed (" + lost + ")");
                        int rc = prefill.stop();
                        err.println("kvbm demo: prefill worker exited with " + rc + (rc == 0 ? " (cleanly)"
                                : ":\n" + prefill.stderr()));
                        return 1;
                    }
                } else if (line.startsWith("SUMMARY ")) {
                    summaryLine = line.substring(8);
                }
            }
            if (summaryLine == null) {
                err.println("kvbm demo: the decode worker ended without a summary (exit "
                        + decode.exitCode() + "):\n" + decode.stderr());
                return 1;
            }
            int decodeExit = decode.stop();
            prefill.send("STOP");
            int prefillExit = prefill.stop();
            JsonNode summary = JSON.readTree(summaryLine);
            boolean clean = leftovers(work).isEmpty();
            if (json) {
                ((com.fasterxml.jackson.databind.node.ObjectNode) summary).put("disk_files_left", leftovers(work).size());
                out.println(JSON.writeValueAsString(summary));
            } else {
                printSummary(out, summary, clean);
            }
            if (summary.get("failures").size() > 0) {
                for (JsonNode f : summary.get("failures")) {
                    err.println("kvbm demo: " + f.asText());
                }
                return 1;
            }
            if (decodeExit != 0 || prefillExit != 0 || !clean) {
                err.println("kvbm demo: decode exited " + decodeExit + ", prefill " + prefillExit
                        + (clean ? "" : ", files left: " + leftovers(work)));
                return 1;
            }
            return 0;
        } finally {
            for (Worker w : new Worker[] {decode, prefill}) {
                if (w != null) {
                    w.process.destroyForcibly();
                    w.process.waitFor(30, TimeUnit.SECONDS);
                }
            }
            deleteTree(work);
        }
    }

    /**
     * Shows the decode worker's progress: a bar redrawn in place on a terminal, a line every tenth of the requests
     * otherwise (a log or a pipe), nothing with {@code --json}.
     */
    private void progress(PrintWriter out, int done) {
        if (json) {
            return;
        }
        if (System.console() != null && System.console().isTerminal()) {
            int width = 40;
            int filled = (int) ((long) done * width / requests);
            out.printf(Locale.ROOT, "\r  decode [%s%s] %d/%d requests", "#".repeat(filled), ".".repeat(width - filled),
                    done, requests);
            if (done == requests) {
                out.println();
            }
            out.flush();
        } else if (done % Math.max(1, requests / 10) == 0 || done == requests) {
            out.printf(Locale.ROOT, "  decode: %d/%d requests%n", done, requests);
            out.flush();
        }
    }

    private void info(PrintWriter out, String line) {
        if (!json) {
            out.println(line);
            out.flush();
        }
    }

    private static void printSummary(PrintWriter out, JsonNode s, boolean clean) {
        long blocks = s.get("blocks").asLong();
        JsonNode p = s.get("paths");
        out.println();
        out.printf(Locale.ROOT, "requests           %d (%d blocks of KV asked for)%n", s.get("requests").asInt(), blocks);
        out.printf(Locale.ROOT, "prefix hit rate    %.1f %% (blocks not recomputed)%n", 100 * s.get("prefix_hit_rate").asDouble());
        for (String[] k : new String[][] {{"g1_hit", "already in G1"}, {"onboard_g2", "onboarded from host (G2)"},
                {"onboard_g3", "onboarded from disk (G3)"}, {"remote_read", "read from the prefill worker (UCX)"},
                {"computed", "computed"}}) {
            JsonNode n = p.get(k[0]);
            out.printf(Locale.ROOT, "  %-36s %6d blocks %9.1f MiB%n", k[1], n.get("blocks").asLong(),
                    n.get("bytes").asLong() / 1048576.0);
        }
        if (s.path("remote_refused").asLong() > 0) {
            out.printf(Locale.ROOT, "  (%d blocks refused: the prefill worker no longer held them; computed)%n",
                    s.get("remote_refused").asLong());
        }
        out.printf(Locale.ROOT, "verified           %d blocks, every byte%n", s.get("verified_blocks").asLong());
        out.printf(Locale.ROOT, "throughput         %.1f MiB/s moved between tiers and workers (%.1f s)%n",
                s.get("moved_bytes_per_second").asDouble() / 1048576.0, s.get("seconds").asDouble());
        if (s.has("kv_index")) {
            JsonNode ix = s.get("kv_index");
            out.printf(Locale.ROOT, "KV index (NATS)    agreed on %d of %d requests (%d snapshots)%n",
                    ix.get("agreed").asLong(), ix.get("queries").asLong(), ix.get("snapshots").asLong());
        }
        out.printf(Locale.ROOT, "failures           %d%n", s.get("failures").size());
        out.printf(Locale.ROOT, "disk tier files    %s%n", clean ? "none left" : "LEFT BEHIND");
        out.flush();
    }

    private static List<Path> leftovers(Path work) throws IOException {
        List<Path> left = new ArrayList<>();
        for (String d : List.of("prefill-disk", "decode-disk")) {
            Path dir = work.resolve(d);
            if (Files.isDirectory(dir)) {
                try (var files = Files.list(dir)) {
                    files.forEach(left::add);
                }
            }
        }
        return left;
    }

    private static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (var all = Files.walk(root)) {
            for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    /** A worker JVM: its stdout as lines, its stderr in a file. */
    private static final class Worker {
        final Process process;
        final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        final Path stderr;
        final Writer stdin;
        final List<String> seen = new ArrayList<>();

        private Worker(Process process, Path stderr) {
            this.process = process;
            this.stderr = stderr;
            this.stdin = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
            Thread reader = new Thread(() -> {
                try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(),
                        StandardCharsets.UTF_8))) {
                    String line;
                    while ((line = in.readLine()) != null) {
                        lines.add(line);
                    }
                } catch (IOException e) {
                    // ended
                }
                lines.add("\u0000EOF");
            }, "demo-worker-" + process.pid());
            reader.setDaemon(true);
            reader.start();
        }

        static Worker start(String role, Path work, long seed, int requests, int prefixes, int corrupt,
                            String discovery, String endpoints, String nats) throws IOException {
            List<String> classPath = new ArrayList<>();
            for (String property : List.of("jdk.module.path", "java.class.path")) {
                for (String entry : System.getProperty(property, "").split(File.pathSeparator)) {
                    if (!entry.isBlank()) {
                        classPath.add(entry);
                    }
                }
            }
            Path stderr = work.resolve(role + ".log");
            List<String> command = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "--enable-native-access=ALL-UNNAMED", "-cp", String.join(File.pathSeparator, classPath),
                    DemoWorker.class.getName(), role, work.toString(), Long.toString(seed), Integer.toString(requests),
                    Integer.toString(prefixes), Integer.toString(corrupt), discovery, endpoints, nats);
            return new Worker(new ProcessBuilder(command).redirectError(stderr.toFile()).start(), stderr);
        }

        /** The next line, or null when the worker ended or said nothing for {@code seconds}. */
        String next(int seconds) throws InterruptedException {
            String line = lines.poll(seconds, TimeUnit.SECONDS);
            if (line == null || line.equals("\u0000EOF")) {
                return null;
            }
            seen.add(line);
            return line;
        }

        String await(String prefix, int seconds) throws InterruptedException, IOException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
            while (System.nanoTime() < deadline) {
                String line = next((int) Math.max(1, TimeUnit.NANOSECONDS.toSeconds(deadline - System.nanoTime())));
                if (line == null) {
                    break;
                }
                if (line.startsWith(prefix)) {
                    return line;
                }
            }
            throw new IllegalStateException("the worker (pid " + process.pid() + ") did not say " + prefix
                    + "; it said " + seen + (process.isAlive() ? "" : ", exited " + process.exitValue())
                    + "\n" + stderr());
        }

        void send(String line) throws IOException {
            stdin.write(line + "\n");
            stdin.flush();
        }

        int stop() throws InterruptedException {
            if (!process.waitFor(60, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor();
                return -1;
            }
            return process.exitValue();
        }

        int exitCode() throws InterruptedException {
            return process.waitFor(10, TimeUnit.SECONDS) ? process.exitValue() : -1;
        }

        String stderr() {
            List<String> rest = new ArrayList<>();
            lines.drainTo(rest);
            rest.removeIf(l -> l.equals("\u0000EOF"));
            try {
                String s = String.join("\n", rest) + (rest.isEmpty() ? "" : "\n") + Files.readString(stderr);
                return s.length() > 4000 ? s.substring(s.length() - 4000) : s;
            } catch (IOException e) {
                return "";
            }
        }
    }
}
