package dev.kvbm.transport;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;

class ArchitectureTest {
    private static final JavaClasses MAIN = new ClassFileImporter().importPath(Path.of("target", "classes"));

    @Test
    void transportFindsBackendsThroughTheApiOnly() {
        classes().should().onlyDependOnClassesThat().resideInAnyPackage("java..", "dev.kvbm.api..",
                        "dev.kvbm.layout..", "dev.kvbm.bincode..", "dev.kvbm.transport..")
                .because("executors and agents are found through ServiceLoader, never linked")
                .check(MAIN);
    }
}
