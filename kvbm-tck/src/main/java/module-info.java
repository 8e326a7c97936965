/**
 * The technology compatibility kit: abstract JUnit 5 verifications of the storage, executor, agent and layout SPIs
 * (each test named after a rule of docs/tck-spec.md), and a runner that finds every backend on the module path,
 * runs the verifications that apply, prints a backend × rule table and writes a JUnit XML report. Depends on the
 * API and JUnit only, so any backend can be certified without the rest of kvbm-java.
 */
module dev.kvbm.tck {
    requires transitive dev.kvbm.api;
    requires transitive org.junit.jupiter.api;
    requires org.junit.platform.launcher;
    requires java.xml;

    exports dev.kvbm.tck;
    exports dev.kvbm.tck.runner;
    opens dev.kvbm.tck to org.junit.platform.commons;
    opens dev.kvbm.tck.runner to org.junit.platform.commons;
}
