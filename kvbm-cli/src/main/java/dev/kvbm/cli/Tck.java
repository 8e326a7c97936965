package dev.kvbm.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code kvbm tck [JAR...]}: the compatibility kit's runner against the backends built here and any vendor jars
 * given, as {@code scripts/tck} does (which it runs, from the repository root {@code ./kvbm} sets).
 */
@Command(name = "tck", mixinStandardHelpOptions = true,
        description = {"Run the compatibility kit against the backends built here and any backend jars given; print"
                + " the backend x rule table and write target/tck-report/TEST-kvbm-tck.xml.",
                "Arguments go to the runner: [--backends NAME,...] [--report DIR] [JAR [--with JAR]...]"},
        footerHeading = "%nExit codes:%n", footer = {"  0   every verified rule passed", "  1   a rule failed",
                "  2   nothing verified, or a jar is missing or provides nothing", "  64  bad usage"})
final class Tck implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** Backend jars and the runner's own options, passed to it as they are. */
    @CommandLine.Unmatched
    List<String> args = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
        Path root = Path.of(System.getProperty("kvbm.home", "."));
        Path script = root.resolve("scripts").resolve("tck");
        if (!Files.isExecutable(script)) {
            spec.commandLine().getErr().println("kvbm tck: " + script.toAbsolutePath() + " is missing; run ./kvbm from"
                    + " the repository root");
            return 2;
        }
        List<String> command = new ArrayList<>(List.of(script.toString()));
        command.addAll(args);
        return new ProcessBuilder(command).directory(root.toFile()).inheritIO().start().waitFor();
    }
}
