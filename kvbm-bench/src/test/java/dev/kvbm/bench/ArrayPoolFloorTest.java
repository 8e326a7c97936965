package dev.kvbm.bench;

import org.junit.jupiter.api.Test;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The floor the pool benchmark divides by must do the work it claims, or its figure would flatter nothing: checked
 * against a model (a map and a queue) over many turnovers of a small pool, whose registry's runs collide often.
 */
class ArrayPoolFloorTest {

    @Test
    void refusesToGiveMoreBlocksThanItHasToGive() {
        ArrayPoolFloor floor = new ArrayPoolFloor(4, 1);
        int[] three = new int[3];
        floor.allocate(three);
        assertThatThrownBy(() -> floor.allocate(new int[2])).hasMessage("2 blocks asked, 1 to give");
    }

    @Test
    void evictsInReleaseOrderAndItsRegistryAgreesWithAModel() {
        int blocks = 8;
        ArrayPoolFloor floor = new ArrayPoolFloor(blocks, 2);
        Map<Long, Integer> model = new HashMap<>();
        ArrayDeque<Integer> order = new ArrayDeque<>(); // released blocks, least recent first
        long[] hashOf = new long[blocks];
        SplittableRandom random = new SplittableRandom(7);
        int[] tokens = {1, 2, 3, 4};
        int used = 0;
        for (int round = 0; round < 5000; round++) {
            int[] ids = new int[1 + random.nextInt(4)];
            floor.allocate(ids);
            for (int id : ids) {
                if (id >= used) { // never used: handed out in id order before any released block
                    assertThat(id).isEqualTo(used++);
                } else {
                    assertThat(id).as("the least recently released block").isEqualTo(order.pollFirst());
                    model.remove(hashOf[id], id); // its hash stays registered when another block holds it
                }
            }
            for (int id : ids) {
                hashOf[id] = random.nextLong(64); // few distinct hashes: already registered ones too
                floor.complete(id, tokens, 2 * random.nextInt(2), hashOf[id]);
            }
            int present = floor.register(ids);
            int expectedPresent = 0;
            for (int id : ids) {
                if (model.putIfAbsent(hashOf[id], id) != null) {
                    expectedPresent++;
                }
            }
            assertThat(present).isEqualTo(expectedPresent);
            floor.release(ids);
            for (int i = ids.length - 1; i >= 0; i--) {
                order.addLast(ids[i]);
            }
            for (long h = 0; h < 64; h++) {
                assertThat(floor.registered(h)).as("hash %d in round %d", h, round)
                        .isEqualTo(model.getOrDefault(h, -1));
            }
        }
    }
}
