package dev.kvbm.api;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

class ArchitectureTest {
    private static final JavaClasses MAIN = new ClassFileImporter().importPath(Path.of("target", "classes"));

    @Test
    void apiDependsOnJavaBaseOnly() {
        classes().should().onlyDependOnClassesThat().resideInAnyPackage(
                        "java.lang..", "java.util..", "java.time..", "java.nio..", "java.io..", "java.math..",
                        "java.lang.foreign..", "java.lang.invoke..", "dev.kvbm.api..")
                .because("kvbm-api is the contract every backend compiles against and may need java.base only")
                .check(MAIN);
    }

    @Test
    void noPackageCycles() {
        slices().matching("dev.kvbm.(**)").should().beFreeOfCycles().check(MAIN);
    }
}
