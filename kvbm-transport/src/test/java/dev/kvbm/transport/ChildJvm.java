package dev.kvbm.transport;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs a main class of these tests in a child JVM on the class path of this test run, so that a crash or a JVM
 * flag under test affects the child only. Output (stdout and stderr) is captured.
 */
final class ChildJvm {

    record Result(int exitCode, String output) {
    }

    private ChildJvm() {
    }

    static Result run(List<String> jvmOptions, Class<?> main, String... args) throws IOException, InterruptedException {
        return run(jvmOptions, main.getName(), args);
    }

    /**
     * Runs {@code main}, a class name or the path of a {@code .java} source file (which the JVM compiles first,
     * against the same class path).
     */
    static Result run(List<String> jvmOptions, String main, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(java()));
        command.addAll(jvmOptions);
        command.addAll(List.of("-cp", classPath(), main));
        command.addAll(List.of(args));
        Path log = Files.createTempFile("kvbm-child-jvm", ".log");
        try {
            Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile())
                    .start();
            if (!process.waitFor(9, TimeUnit.MINUTES)) {
                process.destroyForcibly().waitFor();
                return new Result(-1, "child JVM timed out\n" + Files.readString(log, StandardCharsets.UTF_8));
            }
            return new Result(process.exitValue(), Files.readString(log, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(log);
        }
    }

    /** {@return the java launcher of this JVM} */
    static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    /** {@return this test run's module and class path, and these tests' classes, as one class path} */
    static String classPath() {
        List<String> classPath = new ArrayList<>();
        for (String property : List.of("jdk.module.path", "java.class.path")) {
            for (String entry : System.getProperty(property, "").split(File.pathSeparator)) {
                if (!entry.isBlank()) {
                    classPath.add(entry);
                }
            }
        }
        Path testClasses = Path.of("target", "test-classes").toAbsolutePath();
        if (!Files.isDirectory(testClasses)) {
            throw new IllegalStateException(testClasses + " is missing: run from the module's directory, as Maven does");
        }
        classPath.add(testClasses.toString());
        return String.join(File.pathSeparator, classPath);
    }
}
