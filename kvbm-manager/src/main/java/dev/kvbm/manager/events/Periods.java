package dev.kvbm.manager.events;

import java.time.Duration;
import java.util.Objects;

/** The rule for the optional periods of this package (a publisher's heartbeat, an index's forgetAfter). */
final class Periods {
    private Periods() {
    }

    /**
     * {@return {@code period} in nanoseconds, 0 for zero, saturated at {@link Long#MAX_VALUE} (a period of centuries
     * is never)}
     *
     * @param name      names the setting in the message, e.g. {@code "forgetAfter"}
     * @param zeroMeans what zero means, e.g. {@code "never"}
     * @param why       said after the rule, e.g. why shorter periods are refused; empty for nothing
     * @throws IllegalArgumentException when the period is negative or shorter than a millisecond
     */
    static long nanosOrZero(Duration period, String name, String zeroMeans, String why) {
        Objects.requireNonNull(period, name);
        if (period.isNegative() || (!period.isZero() && period.compareTo(Duration.ofMillis(1)) < 0)) {
            throw new IllegalArgumentException(name + " must be zero (" + zeroMeans + ") or at least 1 ms" + why
                    + ", got " + period);
        }
        return period.compareTo(Duration.ofNanos(Long.MAX_VALUE)) >= 0 ? Long.MAX_VALUE : period.toNanos();
    }
}
