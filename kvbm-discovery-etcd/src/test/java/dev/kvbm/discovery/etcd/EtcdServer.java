package dev.kvbm.discovery.etcd;

import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real etcd (Debian's {@code etcd-server}) as a child process on free loopback ports, for tests: started,
 * stopped, restarted on the same data (or on an empty one), and stopped for good by {@link #close()}. Without the
 * binary the test is skipped with the reason, unless {@code KVBM_REQUIRE} contains {@code etcd} ({@code .ci/run}),
 * where that is a failure.
 */
public final class EtcdServer implements AutoCloseable {
    private final Path binary;
    private final Path data;
    private final int clientPort;
    private final int peerPort;
    private final Path log;
    private Process process;

    private EtcdServer(Path binary, Path data, int clientPort, int peerPort, Path log) {
        this.binary = binary;
        this.data = data;
        this.clientPort = clientPort;
        this.peerPort = peerPort;
        this.log = log;
    }

    /** Starts a new server with an empty data directory under {@code dir}. */
    public static EtcdServer start(Path dir) throws IOException, InterruptedException {
        Path binary = List.of(Path.of("/usr/bin/etcd"), Path.of("/usr/local/bin/etcd")).stream()
                .filter(Files::isExecutable).findFirst().orElse(null);
        if (binary == null) {
            String reason = "etcd is not installed (Debian: apt-get install etcd-server)";
            String require = System.getProperty("kvbm.require", "") + "," + System.getenv().getOrDefault("KVBM_REQUIRE", "");
            if (List.of(require.split(",")).contains("etcd")) {
                Assertions.fail(reason + " and KVBM_REQUIRE=etcd says it must be there");
            }
            Assumptions.abort(reason);
        }
        EtcdServer server = new EtcdServer(binary, dir.resolve("etcd-data"), freePort(), freePort(),
                Files.createTempFile("kvbm-etcd", ".log"));
        server.startProcess();
        return server;
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** {@return the client URL, e.g. {@code http://127.0.0.1:43121}} */
    public String endpoint() {
        return "http://127.0.0.1:" + clientPort;
    }

    private void startProcess() throws IOException, InterruptedException {
        String peer = "http://127.0.0.1:" + peerPort;
        process = new ProcessBuilder(binary.toString(), "--name", "kvbm-test", "--data-dir", data.toString(),
                "--listen-client-urls", endpoint(), "--advertise-client-urls", endpoint(),
                "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                "--initial-cluster", "kvbm-test=" + peer, "--initial-cluster-state", "new")
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException("etcd exited with " + process.exitValue() + ":\n" + Files.readString(log));
            }
            try (Socket socket = new Socket()) {
                socket.connect(new InetSocketAddress("127.0.0.1", clientPort), 1000);
                socket.setSoTimeout(2000);
                socket.getOutputStream().write("GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"
                        .getBytes(StandardCharsets.US_ASCII));
                String reply = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                if (reply.startsWith("HTTP/1.0 200") && reply.contains("\"health\":\"true\"")) {
                    return;
                }
            } catch (IOException e) {
                // not listening yet
            }
            Thread.sleep(100);
        }
        throw new IllegalStateException("etcd did not become healthy within 30 s:\n" + Files.readString(log));
    }

    /** Stops the server (SIGTERM) and waits for it. */
    public void stop() throws InterruptedException {
        if (process != null && process.isAlive()) {
            process.destroy();
            if (!process.waitFor(20, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor();
            }
        }
    }

    /** Starts it again on the same ports; {@code wipe} first deletes its data, as a lost disk would. */
    public void restart(boolean wipe) throws IOException, InterruptedException {
        stop();
        if (wipe && Files.exists(data)) {
            try (var files = Files.walk(data)) {
                for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            }
        }
        startProcess();
    }

    @Override
    public void close() throws InterruptedException, IOException {
        stop();
        Files.deleteIfExists(log);
    }
}
