package dev.kvbm.tck.runner;

import java.util.Objects;

/**
 * The outcome of one rule for one subject.
 *
 * @param subject the subject's label
 * @param rule    the test (rule) name, e.g. {@code required_1_4_closeIsIdempotent}
 * @param status  passed, failed or skipped
 * @param message why it failed or was skipped; empty when it passed
 * @param seconds how long it ran
 */
public record Result(String subject, String rule, Status status, String message, double seconds) {

    /** What happened to a rule. */
    public enum Status { PASSED, FAILED, SKIPPED }

    public Result {
        Objects.requireNonNull(subject, "subject");
        Objects.requireNonNull(rule, "rule");
        Objects.requireNonNull(status, "status");
        message = message == null ? "" : message;
    }
}
