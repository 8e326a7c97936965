package dev.kvbm.backend.cuda;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The committed PTX of the copy kernel is what its CUDA C source compiles to. */
class CudaPtxTest {
    private static final Path COMMITTED = Path.of("src/main/resources/dev/kvbm/backend/cuda/kvbm_copy.ptx");

    @Test
    void theShippedPtxDeclaresTheKernelTheExecutorLaunches() {
        String ptx = CopyKernel.ptx();
        assertThat(ptx).contains(".visible .entry kvbm_copy_regions(", ".param .u64 kvbm_copy_regions_param_0",
                ".param .u32 kvbm_copy_regions_param_1", ".address_size 64");
    }

    @Test
    void regeneratingThePtxWithNvccGivesTheCommittedFile() throws Exception {
        Path nvcc = Path.of(System.getenv().getOrDefault("NVCC", "/usr/local/cuda/bin/nvcc"));
        assumeTrue(Files.isExecutable(nvcc), "nvcc is not installed at " + nvcc + "; the PTX cannot be regenerated here");
        String committed = Files.readString(COMMITTED);
        Process version = new ProcessBuilder(nvcc.toString(), "--version").redirectErrorStream(true).start();
        String nvccVersion = new String(version.getInputStream().readAllBytes());
        version.waitFor(1, TimeUnit.MINUTES);
        String release = nvccVersion.lines().filter(l -> l.startsWith("Cuda compilation tools")).findFirst().orElse("?");
        assumeTrue(committed.contains("// " + release), "the committed PTX was made by another nvcc than " + release
                + "; regenerate it with scripts/cuda-ptx and commit it");
        Path fresh = Files.createTempFile("kvbm_copy", ".ptx");
        try {
            Process p = new ProcessBuilder("bash", "../scripts/cuda-ptx", fresh.toString()).redirectErrorStream(true)
                    .start();
            String output = new String(p.getInputStream().readAllBytes());
            assertThat(p.waitFor(5, TimeUnit.MINUTES)).isTrue();
            assertThat(p.exitValue()).as("scripts/cuda-ptx: %s", output).isZero();
            assertThat(Files.readString(fresh)).as("src/main/cuda/kvbm_copy.cu changed without scripts/cuda-ptx being"
                    + " run: the committed PTX differs from what it compiles to").isEqualTo(committed);
        } finally {
            Files.deleteIfExists(fresh);
        }
    }
}
