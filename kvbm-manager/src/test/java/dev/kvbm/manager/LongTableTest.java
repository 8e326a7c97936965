package dev.kvbm.manager;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/** The pool's primitive hash table, against a {@link HashMap} doing the same operations. */
class LongTableTest {

    @ParameterizedTest(name = "at most 1/{0} full")
    @ValueSource(ints = {2, 4})
    void randomOperationsAgreeWithAHashMapThroughGrowthAndBackwardShiftDeletion(int spread) {
        SplittableRandom random = new SplittableRandom(42);
        LongTable table = new LongTable(4, spread); // grows many times on the way
        Map<Long, Integer> model = new HashMap<>();
        long[] keys = clusteringKeys(random, 600);
        for (int step = 0; step < 200_000; step++) {
            long key = keys[random.nextInt(keys.length)];
            switch (random.nextInt(4)) {
                case 0 -> {
                    int value = 1 + random.nextInt(1000);
                    int before = table.putIfAbsent(key, value);
                    Integer expected = model.putIfAbsent(key, value);
                    assertThat(before).isEqualTo(expected == null ? 0 : expected);
                }
                case 1 -> {
                    int delta = random.nextInt(5) - 2;
                    int after = table.add(key, delta);
                    int expected = model.getOrDefault(key, 0) + delta;
                    if (expected == 0) {
                        model.remove(key);
                    } else {
                        model.put(key, expected);
                    }
                    assertThat(after).isEqualTo(expected);
                }
                case 2 -> {
                    Integer expected = model.remove(key);
                    assertThat(table.remove(key)).isEqualTo(expected == null ? 0 : expected);
                }
                default -> assertThat(table.get(key)).isEqualTo(model.getOrDefault(key, 0));
            }
            assertThat(table.size()).isEqualTo(model.size());
        }
        for (long key : keys) {
            assertThat(table.get(key)).as("key %d", key).isEqualTo(model.getOrDefault(key, 0));
        }
    }

    /**
     * Few distinct keys, some of them colliding on purpose (same low bits after the multiply's shift is unlikely, so
     * also keys that differ only in the high bits), so that clusters form and deletions shift.
     */
    static long[] clusteringKeys(SplittableRandom random, int n) {
        long[] keys = new long[n];
        for (int i = 0; i < keys.length; i++) {
            keys[i] = i % 3 == 0 ? random.nextLong() : ((long) i << 48) ^ 0x5DEECE66DL;
        }
        return keys;
    }

    @Test
    void aTableSizedForItsKeysHoldsThemAllAndEmptiesCompletely() {
        LongTable table = new LongTable(1000);
        for (int i = 1; i <= 1000; i++) {
            assertThat(table.putIfAbsent(i * 0x9E3779B97F4A7C15L, i)).isZero();
        }
        for (int i = 1; i <= 1000; i++) {
            assertThat(table.putIfAbsent(i * 0x9E3779B97F4A7C15L, -1)).isEqualTo(i);
        }
        for (int i = 1; i <= 1000; i++) {
            assertThat(table.remove(i * 0x9E3779B97F4A7C15L)).isEqualTo(i);
        }
        assertThat(table.size()).isZero();
        assertThat(table.get(0x9E3779B97F4A7C15L)).isZero();
    }
}
