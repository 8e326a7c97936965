package dev.kvbm.layout;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

class ArchitectureTest {
    private static final JavaClasses MAIN = new ClassFileImporter().importPath(Path.of("target", "classes"));

    @Test
    void layoutDependsOnTheApiOnly() {
        classes().should().onlyDependOnClassesThat().resideInAnyPackage("java..", "dev.kvbm.api..", "dev.kvbm.layout..",
                        "com.fasterxml.jackson..")
                .because("layouts are address math over the API; backends are found, never linked")
                .check(MAIN);
    }

    @Test
    void onlyTheJsonFormUsesJackson() {
        classes().that().doNotHaveSimpleName("LayoutDescriptorJson").should().onlyDependOnClassesThat()
                .resideInAnyPackage("java..", "dev.kvbm.api..", "dev.kvbm.layout..")
                .because("Jackson is a detail of the human-readable form, not of the address math")
                .check(MAIN);
    }

    @Test
    void noPackageCycles() {
        slices().matching("dev.kvbm.(**)").should().beFreeOfCycles().check(MAIN);
    }
}
