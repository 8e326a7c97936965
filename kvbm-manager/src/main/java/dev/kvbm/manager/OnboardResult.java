package dev.kvbm.manager;

import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * What {@link KvBlockManager#onboard(List)} brought to G1. A block is in {@link #onboarded()} only when its bytes
 * landed (or it was in G1 already); every other block is in {@link #failures()} with the cause, and was neither
 * registered in G1 nor handed back, so the engine recomputes exactly those.
 */
public final class OnboardResult implements AutoCloseable {

    /**
     * A block that did not reach G1.
     *
     * @param index        its position in the list given to {@code onboard}
     * @param sequenceHash its sequence hash
     * @param fromTier     the tier it was copied from
     * @param cause        why the copy failed
     */
    public record Failure(int index, long sequenceHash, Tier fromTier, Throwable cause) {
        /** Checks nothing is null. */
        public Failure {
            Objects.requireNonNull(fromTier, "fromTier");
            Objects.requireNonNull(cause, "cause");
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "block %d (hash %s) from %s: %s", index,
                    Long.toUnsignedString(sequenceHash), fromTier, cause);
        }
    }

    private final List<ImmutableBlock> onboarded;
    private final List<Integer> indices;
    private final List<Failure> failures;

    OnboardResult(List<ImmutableBlock> onboarded, List<Integer> indices, List<Failure> failures) {
        this.onboarded = List.copyOf(onboarded);
        this.indices = List.copyOf(indices);
        this.failures = List.copyOf(failures);
    }

    /** {@return the G1 blocks whose bytes are there, in the order given, skipping failures} */
    public List<ImmutableBlock> onboarded() {
        return onboarded;
    }

    /** {@return for each onboarded block, its position in the list given} */
    public List<Integer> onboardedIndices() {
        return indices;
    }

    /** {@return the blocks that did not arrive, in the order given} */
    public List<Failure> failures() {
        return failures;
    }

    /** {@return true when every block arrived} */
    public boolean isComplete() {
        return failures.isEmpty();
    }

    /** {@return how many blocks from the start of the list arrived, up to the first failure} */
    public int prefixLength() {
        return failures.isEmpty() ? onboarded.size() : failures.getFirst().index();
    }

    /** {@return the G1 blocks of {@link #prefixLength()}: the prefix the engine can use as it is} */
    public List<ImmutableBlock> prefix() {
        return onboarded.subList(0, prefixLength());
    }

    /** Releases every onboarded block; idempotent. */
    @Override
    public void close() {
        KvBlockManager.release(onboarded);
    }


    @Override
    public String toString() {
        return "OnboardResult[" + onboarded.size() + " onboarded, failures " + failures + "]";
    }
}
