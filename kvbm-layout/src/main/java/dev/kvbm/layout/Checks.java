package dev.kvbm.layout;

import java.util.Locale;

/** Bounds checks whose messages name the index, its value and its limit. */
final class Checks {
    private Checks() {
    }

    static void index(String what, int value, int limit, String limitName) {
        if (value < 0 || value >= limit) {
            throw new IndexOutOfBoundsException(String.format(Locale.ROOT,
                    "%s %d out of range: must be 0..%d (%s=%d)", what, value, limit - 1, limitName, limit));
        }
    }
}
