package dev.kvbm.events.nats;

import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real nats-server (Debian's {@code nats-server}) as a child process on a free loopback port, stopped and
 * restarted on the same port by the tests. Without the binary the test is skipped with the reason, unless
 * {@code KVBM_REQUIRE} contains {@code nats} ({@code .ci/run}), where that is a failure.
 */
final class NatsServer implements AutoCloseable {
    private final Path binary;
    private final int port;
    private final Path log;
    private Process process;

    private NatsServer(Path binary, int port, Path log) {
        this.binary = binary;
        this.port = port;
        this.log = log;
    }

    static NatsServer start() throws IOException, InterruptedException {
        Path binary = List.of(Path.of("/usr/sbin/nats-server"), Path.of("/usr/bin/nats-server"),
                Path.of("/usr/local/bin/nats-server")).stream().filter(Files::isExecutable).findFirst().orElse(null);
        if (binary == null) {
            String reason = "nats-server is not installed (Debian: apt-get install nats-server)";
            String require = System.getProperty("kvbm.require", "") + "," + System.getenv().getOrDefault("KVBM_REQUIRE", "");
            if (List.of(require.split(",")).contains("nats")) {
                Assertions.fail(reason + " and KVBM_REQUIRE=nats says it must be there");
            }
            Assumptions.abort(reason);
        }
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        NatsServer server = new NatsServer(binary, port, Files.createTempFile("kvbm-nats", ".log"));
        server.startProcess();
        return server;
    }

    String url() {
        return "nats://127.0.0.1:" + port;
    }

    private void startProcess() throws IOException, InterruptedException {
        process = new ProcessBuilder(binary.toString(), "-a", "127.0.0.1", "-p", Integer.toString(port))
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException("nats-server exited with " + process.exitValue() + ":\n"
                        + Files.readString(log));
            }
            try (Socket socket = new Socket()) {
                socket.connect(new InetSocketAddress("127.0.0.1", port), 500);
                return;
            } catch (IOException e) {
                Thread.sleep(50);
            }
        }
        throw new IllegalStateException("nats-server did not listen within 20 s:\n" + Files.readString(log));
    }

    void stop() throws InterruptedException {
        if (process != null && process.isAlive()) {
            process.destroy();
            if (!process.waitFor(20, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor();
            }
        }
    }

    void restart() throws IOException, InterruptedException {
        stop();
        startProcess();
    }

    @Override
    public void close() throws InterruptedException, IOException {
        stop();
        Files.deleteIfExists(log);
    }
}
