/**
 * JMH benchmarks of kvbm-java. Compiled as a named module; run from the shaded {@code target/benchmarks.jar} on
 * the class path (JMH's forked JVMs use the class path), which also exercises backend discovery through the
 * mirrored {@code META-INF/services} files.
 */
module dev.kvbm.bench {
    requires dev.kvbm.layout;
    requires dev.kvbm.manager;
    requires jmh.core;
    requires com.fasterxml.jackson.databind;

    exports dev.kvbm.bench;
    exports dev.kvbm.bench.jmh_generated;
}
