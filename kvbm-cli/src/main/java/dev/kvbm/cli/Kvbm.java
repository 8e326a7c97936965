package dev.kvbm.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;

/**
 * {@code kvbm}: the command-line front of kvbm-java. Exit codes: 0 success; 1 a check failed (a rule of the kit, a
 * byte that did not verify); 2 bad input (e.g. {@code inspect} of bytes that are not metadata); 64 bad usage.
 */
@Command(name = "kvbm", mixinStandardHelpOptions = true, version = "kvbm 0.1.0-SNAPSHOT",
        description = "A KV-cache block manager for LLM inference on the JVM.",
        subcommands = {Demo.class, Bench.class, Inspect.class, Tck.class, CommandLine.HelpCommand.class},
        footerHeading = "%nExit codes:%n",
        footer = {"  0   success", "  1   a check failed (a kit rule, a byte that did not verify)",
                "  2   bad input (e.g. inspect of bytes that are not metadata)", "  64  bad usage"})
public final class Kvbm implements Runnable {
    /** Bad usage (sysexits' EX_USAGE). */
    static final int USAGE = 64;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "name a command: demo, bench, inspect, tck (see --help)");
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /**
     * Runs the command line with the given streams (what {@link #main} does, for tests).
     *
     * @return the exit code
     */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        CommandLine cmd = new CommandLine(new Kvbm());
        cmd.setOut(new PrintWriter(out, true, StandardCharsets.UTF_8));
        cmd.setErr(new PrintWriter(err, true, StandardCharsets.UTF_8));
        cmd.setParameterExceptionHandler((e, a) -> {
            CommandLine c = e.getCommandLine();
            c.getErr().println("kvbm: " + e.getMessage());
            c.getErr().println("Try '" + c.getCommandSpec().qualifiedName() + " --help'.");
            return USAGE;
        });
        cmd.setExecutionExceptionHandler((e, c, parsed) -> {
            // Never a stack trace for a person: one line saying what failed.
            c.getErr().println("kvbm " + c.getCommandName() + ": " + e.getClass().getSimpleName() + ": " + e.getMessage());
            return 1;
        });
        return cmd.execute(args);
    }
}
