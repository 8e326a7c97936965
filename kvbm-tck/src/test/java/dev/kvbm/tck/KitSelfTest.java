package dev.kvbm.tck;

import dev.kvbm.api.spi.Backends;
import dev.kvbm.tck.runner.Result;
import dev.kvbm.tck.runner.TckRunner;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The kit is tested against deliberately broken backends: each must fail exactly the rule it breaks, with a message
 * that says what is wrong, while the correct doubles pass every rule they can be held to.
 */
class KitSelfTest {

    @Test
    void testsRunInTheNamedModule() {
        assertThat(getClass().getModule().getName()).isEqualTo("dev.kvbm.tck");
    }

    @Test
    void correctDoublesPassEveryRequiredRule() {
        for (Class<?> verification : List.of(Verifications.CorrectStorage.class, Verifications.CorrectFileStorage.class,
                Verifications.CorrectExecutor.class, Verifications.CorrectAgent.class, Verifications.CorrectLayout.class)) {
            List<Result> results = TckRunner.runClass(verification.getSimpleName(), verification);
            assertThat(results).as(verification.getSimpleName()).isNotEmpty()
                    .allSatisfy(r -> assertThat(r.status()).as(r.rule() + ": " + r.message())
                            .isNotEqualTo(Result.Status.FAILED));
            // Rule 1.11 is for disk storage only: host storage skips it, saying so.
            assertThat(results).filteredOn(r -> r.rule().startsWith("required_"))
                    .filteredOn(r -> !(r.rule().startsWith("required_1_11_") && r.message().contains("is for files")))
                    .allSatisfy(r -> assertThat(r.status()).as(r.rule() + ": " + r.message())
                            .isEqualTo(Result.Status.PASSED));
        }
    }

    @Test
    void fileStorageThatLosesANeighboursWriteFailsRule_1_11() {
        assertFailsOnly(Verifications.LostWriteFileStorage.class,
                "required_1_11_fileWritesSharingAnAlignedUnitAllLandAndUnalignedIoTouchesNothingElse",
                "shares its aligned unit was lost");
    }

    @Test
    void storageThatIgnoresAlignmentFailsRule_1_1() {
        assertFailsOnly(Verifications.AlignmentIgnoringStorage.class, "required_1_1_allocationHonoursSizeAndAlignment",
                "is not a multiple of");
    }

    @Test
    void storageWhoseCloseIsNotIdempotentFailsRule_1_4() {
        assertFailsOnly(Verifications.DoubleCountingCloseStorage.class, "required_1_4_closeIsIdempotent",
                "changed after closing one storage three times");
    }

    @Test
    void executorThatCopiesOneByteShortFailsRules_2_1_to_2_3() {
        List<Result> results = TckRunner.runClass("short", Verifications.OneByteShortExecutor.class);
        assertThat(results).filteredOn(r -> r.status() == Result.Status.FAILED).extracting(Result::rule)
                .containsExactlyInAnyOrder("required_2_1_copiesExactlyTheBytesAskedAndNothingElse",
                        "required_2_2_manySmallPairs", "required_2_3_fewLargePairs");
        assertThat(results).filteredOn(r -> r.status() == Result.Status.FAILED)
                .allSatisfy(r -> assertThat(r.message()).matches("destination byte \\d+ \\(byte \\d+ of pair \\d+ \\(\\d+ bytes\\)\\)"
                        + " is 0x\\p{XDigit}{2}, expected 0x\\p{XDigit}{2}"));
    }

    @Test
    void agentThatReachesOutsideRegisteredMemoryFailsRule_3_4() {
        assertFailsOnly(Verifications.OutOfBoundsReadingAgent.class,
                "required_3_4_descriptorsOutsideRegisteredMemoryAreRejected",
                "post accepted a remote descriptor reaching 32 bytes past the peer's registered memory");
    }

    @Test
    void agentThatNotifiesTwiceFailsRule_3_5() {
        assertFailsOnly(Verifications.TwiceNotifyingAgent.class, "required_3_5_notificationsAreDeliveredExactlyOnce",
                "exactly once");
    }

    @Test
    void agentThatIgnoresTheStorageLifetimeFailsRule_3_11() {
        List<Result> results = TckRunner.runClass("stale", Verifications.LifetimeIgnoringAgent.class);
        assertThat(results).filteredOn(r -> r.status() == Result.Status.FAILED).extracting(Result::rule)
                .contains("required_3_11_closingRegisteredStorageWithdrawsItBeforeFreeing")
                .allSatisfy(rule -> assertThat(rule).startsWith("required_3_1"));
        assertThat(results).filteredOn(r -> r.rule().startsWith("required_3_11")).singleElement()
                .satisfies(r -> assertThat(r.message()).contains("never read freed memory"));
    }

    @Test
    void layoutWithAWrongStrideFailsRules_4_1_and_4_2() {
        // A layer stride that forgets the outer dimension gives wrong addresses and overlapping regions.
        List<Result> results = TckRunner.runClass("wrong-stride", Verifications.WrongStrideLayout.class);
        assertThat(results).filteredOn(r -> r.status() == Result.Status.FAILED).extracting(Result::rule)
                .containsExactly("required_4_1_addressMathEqualsDynamo",
                        "required_4_2_regionsAreDisjointAndInsideTheBackingMemory");
        assertThat(results.getFirst().message()).contains("Dynamo's math gives");
        assertThat(results.get(1).message()).contains("overlap");
    }

    @Test
    void theTableAndTheXmlReportNameEveryRule(@TempDir Path dir) throws Exception {
        List<Result> results = TckRunner.runClass("broken-short-copy", Verifications.OneByteShortExecutor.class);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        TckRunner.printTable(results, new PrintStream(bytes, true, StandardCharsets.UTF_8));
        String table = bytes.toString(StandardCharsets.UTF_8);
        assertThat(table).contains("broken-short-copy | required_2_1_copiesExactlyTheBytesAskedAndNothingElse",
                "FAILED: destination byte", "| passed", "kvbm-tck: 8 passed, 3 failed, 0 skipped");
        Path xml = TckRunner.writeReport(results, dir);
        String report = Files.readString(xml);
        assertThat(report).contains("<testsuite name=\"broken-short-copy\" tests=\"11\" failures=\"3\" skipped=\"0\"",
                "<testcase classname=\"broken-short-copy\" name=\"required_2_4_overlappingDestinationsAreRejected\"",
                "<failure message=\"destination byte");
    }

    @Test
    void storageThatIgnoresAlignmentAboveAPageFailsRule_1_1OnBothPaths() {
        // It declares 64 KiB alignment; the kit reads that from the provider on either path.
        assertFailsOnlyOnBothPaths(Verifications.LargeAlignmentIgnoringStorage.class,
                TestDoubles.StorageDefect.IGNORES_ALIGNMENT_ABOVE_4096, "required_1_1_allocationHonoursSizeAndAlignment",
                "which is not a multiple of 65536");
    }

    @Test
    void allocatorThatHandsOutTheSameMemoryTwiceFailsRule_1_12OnBothPaths() {
        assertFailsOnlyOnBothPaths(Verifications.AliasingStorage.class, TestDoubles.StorageDefect.RACY_POOL,
                "required_1_12_noTwoLiveStoragesShareMemory", "same memory twice");
    }

    @Test
    void storageThatPromisesZerosAndReturnsOldBytesFailsRule_1_13OnBothPaths() {
        assertFailsOnlyOnBothPaths(Verifications.UnzeroedStorage.class, TestDoubles.StorageDefect.NOT_ZEROED,
                "optional_1_13_newMemoryReadsAsZeros", "promises zeroed memory");
    }

    @Test
    void providerThatIsAvailableButCannotAllocateFailsRule_1_14Alone() {
        assertFailsOnlyOnBothPaths(Verifications.AvailableButEmptyStorage.class,
                TestDoubles.StorageDefect.CANNOT_ALLOCATE, "required_1_14_anAvailableProviderAllocatesItsSmallestAllocation",
                "must say so in unavailabilityCause()");
        // The other rules skip, naming rule 1.14, instead of each failing with the backend's exception.
        assertThat(TckRunner.runClass("empty", Verifications.AvailableButEmptyStorage.class))
                .filteredOn(r -> !r.rule().startsWith("required_1_14_"))
                .allSatisfy(r -> assertThat(r.message()).as(r.rule()).startsWith("rule 1.14 fails:"));
    }

    @Test
    void providerThatComparesOnlyTheTypeOfAKindFailsRule_1_9OnBothPaths() {
        assertFailsOnlyOnBothPaths(Verifications.TypeOnlyStorage.class, TestDoubles.StorageDefect.CHECKS_TYPE_ONLY,
                "required_1_9_unsupportedKindIsRejected", "a vendor kind no provider declares");
    }

    @Test
    void providerThatLetsOutOfMemoryEscapeFailsRule_1_15OnBothPaths() {
        assertFailsOnlyOnBothPaths(Verifications.OomLeakingStorage.class, TestDoubles.StorageDefect.OOM_ESCAPES,
                "required_1_15_anAllocationThatCannotBeHadFailsCleanly", "threw java.lang.OutOfMemoryError");
    }

    @Test
    void executorWhoseCloseDropsQueuedBatchesFailsRule_2_9OnBothPaths() {
        assertFailsOnlyOnBothPaths(Verifications.QueueDroppingExecutor.class,
                TestDoubles.ExecutorDefect.CLOSE_DROPS_QUEUED, "required_2_9_closeCompletesOrFailsEveryAcceptedBatch",
                "neither completed nor failed");
    }

    @Test
    void executorThatCopiesWithoutLeasesFailsRule_2_10OnBothPaths() {
        assertFailsOnlyOnBothPaths(Verifications.LeaselessExecutor.class, TestDoubles.ExecutorDefect.NO_LEASES,
                "required_2_10_aCopyLeasesBothStoragesForItsWholeLength", "without leasing it (Storage.acquire())");
    }

    @Test
    void executorWhoseCloseWaitsForItsOwnThreadFailsRule_2_11() {
        // One path only: the rule waits its full timeout (60 s) for the close that never returns.
        assertFailsOnly(Verifications.SelfWaitingExecutor.class,
                "required_2_11_closingTheExecutorFromACompletionCallbackReturns", "waits for itself");
    }

    @Test
    void theRunnerGivesTheCorrectDoublesTheSameVerdictAsTheirJUnitSubclasses() {
        Backends backends = Backends.of(List.of(new TestDoubles.ArenaStorageProvider()),
                List.of(new TestDoubles.CopyExecutorProvider()), List.of());
        List<Result> runner = TckRunner.verify(backends);
        assertThat(runner).extracting(Result::subject).containsOnly("test-arena (System)",
                "test-copy (test-arena System -> test-arena System)");
        assertThat(runner).allSatisfy(r -> assertThat(r.status()).as(r.subject() + " " + r.rule() + ": " + r.message())
                .isNotEqualTo(Result.Status.FAILED));
        for (var pair : List.of(java.util.Map.entry("test-arena (System)", Verifications.CorrectStorage.class),
                java.util.Map.entry("test-copy (test-arena System -> test-arena System)",
                        Verifications.CorrectExecutor.class))) {
            List<Result> junit = TckRunner.runClass(pair.getKey(), pair.getValue());
            assertThat(runner).filteredOn(r -> r.subject().equals(pair.getKey()))
                    .extracting(Result::rule, Result::status, Result::message)
                    .containsExactlyElementsOf(junit.stream()
                            .map(r -> org.assertj.core.groups.Tuple.tuple(r.rule(), r.status(), r.message())).toList());
        }
    }

    @Test
    void anExecutorWhoseStorageIsUnavailableStillHasItsRowsSkippedWithTheReason() {
        Backends backends = Backends.of(List.of(), List.of(new TestDoubles.CopyExecutorProvider()), List.of());
        List<Result> runner = TckRunner.verify(backends);
        assertThat(runner).isNotEmpty().allSatisfy(r -> {
            assertThat(r.subject()).isEqualTo("test-copy (none System -> none System)");
            assertThat(r.status()).isEqualTo(Result.Status.SKIPPED);
            assertThat(r.message()).contains("neither its own backend (test) nor the reference backend (system)");
        });
        assertThat(runner).extracting(Result::rule).contains("required_2_1_copiesExactlyTheBytesAskedAndNothingElse",
                "required_2_10_aCopyLeasesBothStoragesForItsWholeLength");
    }

    /** The JUnit subclass and the runner (over the same double, discovered as a provider) fail the same one rule. */
    private static void assertFailsOnlyOnBothPaths(Class<?> verification, Enum<?> defect, String rule, String message) {
        assertFailsOnly(verification, rule, message);
        Backends backends = defect instanceof TestDoubles.StorageDefect d
                ? Backends.of(List.of(new TestDoubles.ArenaStorageProvider(d)), List.of(), List.of())
                : Backends.of(List.of(new TestDoubles.ArenaStorageProvider()),
                List.of(new TestDoubles.CopyExecutorProvider((TestDoubles.ExecutorDefect) defect)), List.of());
        String subject = defect instanceof TestDoubles.StorageDefect ? "test-arena (System)"
                : "test-copy (test-arena System -> test-arena System)";
        List<Result> results = TckRunner.verify(backends);
        assertThat(results).as("through the runner").filteredOn(r -> r.status() == Result.Status.FAILED)
                .extracting(Result::subject, Result::rule)
                .containsExactly(org.assertj.core.groups.Tuple.tuple(subject, rule));
        assertThat(results).filteredOn(r -> r.rule().equals(rule)).singleElement()
                .satisfies(r -> assertThat(r.message()).contains(message));
    }

    private static void assertFailsOnly(Class<?> verification, String rule, String message) {
        List<Result> results = TckRunner.runClass(verification.getSimpleName(), verification);
        assertThat(results).filteredOn(r -> r.status() == Result.Status.FAILED).extracting(Result::rule)
                .containsExactly(rule);
        assertThat(results).filteredOn(r -> r.rule().equals(rule)).singleElement()
                .satisfies(r -> assertThat(r.message()).contains(message));
    }
}
