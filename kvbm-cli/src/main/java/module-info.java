/**
 * The {@code kvbm} command: {@link dev.kvbm.cli.Kvbm}. Run through {@code ./kvbm} at the repository root.
 */
module dev.kvbm.cli {
    requires dev.kvbm.manager;
    requires dev.kvbm.events.nats;
    requires info.picocli;
    requires com.fasterxml.jackson.databind;
    requires dev.kvbm.bench;
    requires jmh.core;
    requires org.jfree.jfreechart;
    requires org.jfree.svg;
    requires java.desktop;

    opens dev.kvbm.cli to info.picocli;
    exports dev.kvbm.cli;
}
