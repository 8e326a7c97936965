package dev.kvbm.tck.runner;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Orders rule names ({@code required_1_10_x} after {@code required_1_9_y}) by their section and number. */
final class RuleOrder {
    private static final Pattern RULE = Pattern.compile("^(?:required|optional|untested)_(\\d+)_(\\d+)_.*");

    private RuleOrder() {
    }

    static int compare(String a, String b) {
        Matcher x = RULE.matcher(a);
        Matcher y = RULE.matcher(b);
        if (x.matches() && y.matches()) {
            int bySection = Integer.compare(Integer.parseInt(x.group(1)), Integer.parseInt(y.group(1)));
            return bySection != 0 ? bySection : Integer.compare(Integer.parseInt(x.group(2)), Integer.parseInt(y.group(2)));
        }
        return x.matches() ? -1 : y.matches() ? 1 : a.compareTo(b);
    }
}
