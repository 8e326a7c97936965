package dev.kvbm.bincode;

import com.tngtech.archunit.core.importer.ClassFileImporter;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;

class ArchitectureTest {
    @Test
    void bincodeDependsOnJavaBaseOnly() {
        classes().should().onlyDependOnClassesThat().resideInAnyPackage("java.lang..", "java.util..", "java.math..",
                        "java.nio..", "java.io..", "dev.kvbm.bincode..")
                .because("the wire format is a standalone port with no dependencies")
                .check(new ClassFileImporter().importPath(Path.of("target", "classes")));
    }
}
