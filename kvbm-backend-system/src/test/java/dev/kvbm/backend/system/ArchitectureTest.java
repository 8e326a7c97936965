package dev.kvbm.backend.system;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

class ArchitectureTest {
    private static final JavaClasses MAIN = new ClassFileImporter().importPath(Path.of("target", "classes"));

    @Test
    void backendDependsOnTheApiOnly() {
        classes().should().onlyDependOnClassesThat().resideInAnyPackage("java..", "dev.kvbm.api..",
                        "dev.kvbm.backend.system..")
                .because("a backend depends on kvbm-api only: never on another backend, transport or manager")
                .check(MAIN);
    }

    @Test
    void noPackageCycles() {
        slices().matching("dev.kvbm.(**)").should().beFreeOfCycles().check(MAIN);
    }
}
