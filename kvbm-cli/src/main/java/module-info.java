/**
 * The {@code kvbm} command: {@link dev.kvbm.cli.Kvbm}. Run through {@code ./kvbm} at the repository root.
 */
module dev.kvbm.cli {
    requires dev.kvbm.manager;
    requires info.picocli;
    requires com.fasterxml.jackson.databind;

    opens dev.kvbm.cli to info.picocli;
    exports dev.kvbm.cli;
}
