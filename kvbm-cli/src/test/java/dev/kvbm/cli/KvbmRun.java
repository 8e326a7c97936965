package dev.kvbm.cli;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/**
 * One in-process run of the {@code kvbm} command, its output captured.
 *
 * @param exit the exit code
 * @param out  what it printed on stdout
 * @param err  what it printed on stderr
 */
record KvbmRun(int exit, String out, String err) {

    /** {@return the result of {@code kvbm args...}} */
    static KvbmRun of(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int exit = Kvbm.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new KvbmRun(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }
}
