package dev.kvbm.manager;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The pool's registry table, against a {@link HashMap} doing the same operations. */
class RefTableTest {

    @ParameterizedTest(name = "at most 1/{0} full")
    @ValueSource(ints = {2, 4})
    void randomOperationsAgreeWithAHashMapThroughBackwardShiftDeletion(int spread) {
        SplittableRandom random = new SplittableRandom(7);
        RefTable<String> table = new RefTable<>(600, spread);
        Map<Long, String> model = new HashMap<>();
        long[] keys = LongTableTest.clusteringKeys(random, 600);
        for (int step = 0; step < 200_000; step++) {
            long key = keys[random.nextInt(keys.length)];
            switch (random.nextInt(3)) {
                case 0 -> {
                    String value = "v" + step;
                    assertThat(table.putIfAbsent(key, value)).isEqualTo(model.putIfAbsent(key, value));
                }
                case 1 -> assertThat(table.remove(key)).isEqualTo(model.remove(key));
                default -> assertThat(table.get(key)).isEqualTo(model.get(key));
            }
            assertThat(table.size()).isEqualTo(model.size());
        }
        for (long key : keys) {
            assertThat(table.get(key)).as("key %d", key).isEqualTo(model.get(key));
        }
    }

    @Test
    void aFullTableRefusesAnotherKeyAndKeepsWhatItHolds() {
        RefTable<Integer> table = new RefTable<>(3, 4);
        for (int i = 1; i <= 3; i++) {
            assertThat(table.putIfAbsent(i * 31L, i)).isNull();
        }
        assertThat(table.putIfAbsent(31L, 9)).as("a key it holds is still answered").isEqualTo(1);
        assertThatThrownBy(() -> table.putIfAbsent(99L, 4)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("capacity of 3 keys");
        assertThat(table.size()).isEqualTo(3);
        assertThat(table.remove(62L)).isEqualTo(2);
        assertThat(table.putIfAbsent(99L, 4)).isNull();
        assertThatThrownBy(() -> new RefTable<>(4, 1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("at least 2 entries per key");
    }
}
