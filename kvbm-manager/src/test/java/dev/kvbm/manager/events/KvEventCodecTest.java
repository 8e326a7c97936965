package dev.kvbm.manager.events;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.OptionalLong;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class KvEventCodecTest {

    private static byte[] json(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void everyKindRoundTripsWithFullU64Values() {
        List<KvEvent> events = List.of(
                new KvEvent(-1L, 1, new KvEvent.Cleared()),
                new KvEvent(7, 2, new KvEvent.Stored(OptionalLong.empty(),
                        List.of(new KvEvent.StoredBlock(-5L, Long.MIN_VALUE), new KvEvent.StoredBlock(3, 4)))),
                new KvEvent(7, 3, new KvEvent.Stored(OptionalLong.of(-2L), List.of(new KvEvent.StoredBlock(9, 10)))),
                new KvEvent(7, -100L, new KvEvent.Removed(new long[] {1, -1L, Long.MAX_VALUE})),
                new KvEvent(7, 5, new KvEvent.Removed(new long[0])), // uses up an id, changes nothing
                new KvEvent(7, -77L, 4, new KvEvent.Cleared()));
        for (KvEvent e : events) {
            assertThat(KvEventCodec.decodeEvent(KvEventCodec.encode(e))).isEqualTo(e);
        }
        KvSnapshot snapshot = new KvSnapshot(7, -3L, 99, List.of(new KvEvent.StoredBlock(-9L, 8)));
        assertThat(KvEventCodec.decodeSnapshot(KvEventCodec.encode(snapshot))).isEqualTo(snapshot);
        assertThat(new String(KvEventCodec.encode(events.get(4)), StandardCharsets.UTF_8))
                .contains("\"removed\":{\"block_hashes\":[]}");
        assertThat(new String(KvEventCodec.encode(events.get(3)), StandardCharsets.UTF_8))
                .contains("\"event_id\":18446744073709551516").contains("\"removed\":{\"block_hashes\":[1,"
                        + "18446744073709551615,9223372036854775807]}");
    }

    @Test
    void dynamoShapedEventsWithoutAVersionAreRead() {
        KvEvent e = KvEventCodec.decodeEvent(json("{\"worker_id\":3,\"event\":{\"event_id\":5,\"data\":{\"stored\":"
                + "{\"parent_hash\":null,\"blocks\":[{\"block_hash\":11,\"tokens_hash\":12}]}}},\"extra\":true}"));
        assertThat(e).isEqualTo(new KvEvent(3, 5, new KvEvent.Stored(OptionalLong.empty(),
                List.of(new KvEvent.StoredBlock(11, 12)))));
    }

    @Test
    void malformedEventsNameWhatIsWrong() {
        String ok = "{\"version\":1,\"worker_id\":1,\"event\":{\"event_id\":2,\"data\":%s}}";
        record Case(String json, String message) {
        }
        List<Case> cases = List.of(
                new Case("", "empty message"),
                new Case("{\"worker_id\":", "not JSON"),
                new Case("[1,2]", "expected a JSON object, got array"),
                new Case("{\"version\":2,\"worker_id\":1,\"event\":{\"event_id\":2,\"data\":\"cleared\"}}",
                        "version 2 is not one this reader knows"),
                new Case("{\"worker_id\":\"1\",\"event\":{\"event_id\":2,\"data\":\"cleared\"}}",
                        "worker_id must be an unsigned integer, got string"),
                new Case("{\"worker_id\":-1,\"event\":{\"event_id\":2,\"data\":\"cleared\"}}",
                        "worker_id is -1, outside 0 to 2^64-1"),
                new Case("{\"worker_id\":18446744073709551616,\"event\":{\"event_id\":2,\"data\":\"cleared\"}}",
                        "outside 0 to 2^64-1"),
                new Case("{\"worker_id\":1.5,\"event\":{\"event_id\":2,\"data\":\"cleared\"}}", "unsigned integer"),
                new Case("{\"worker_id\":1,\"event\":{\"event_id\":0,\"data\":\"cleared\"}}", "event ids start at 1"),
                new Case("{\"worker_id\":1}", "event must be an object"),
                new Case(String.format(ok, "\"exploded\""), "the only event without a body is \"cleared\""),
                new Case(String.format(ok, "{\"moved\":{}}"), "event.data.moved is not an event kind"),
                new Case(String.format(ok, "{\"stored\":{\"blocks\":[]}}"), "event.data.stored.blocks is empty"),
                new Case(String.format(ok, "{\"stored\":{\"blocks\":[{\"block_hash\":1}]}}"), "tokens_hash is missing"),
                new Case(String.format(ok, "{\"stored\":{\"parent_hash\":\"x\",\"blocks\":[]}}"),
                        "parent_hash must be an unsigned integer"),
                new Case(String.format(ok, "{\"removed\":{\"block_hashes\":[1,true]}}"),
                        "block_hashes[1] must be an unsigned integer"),
                new Case(String.format(ok, "{\"stored\":{},\"removed\":{}}"), "exactly one of"),
                new Case("{\"worker_id\":1,\"worker_id\":2,\"event\":{\"event_id\":2,\"data\":\"cleared\"}}",
                        "Duplicate field 'worker_id'"),
                new Case(String.format(ok, "\"cleared\"") + " {\"more\":1}", "not JSON"),
                new Case(String.format(ok, "\"cleared\"") + " trailing", "not JSON"));
        for (Case c : cases) {
            assertThatThrownBy(() -> KvEventCodec.decodeEvent(json(c.json()))).as(c.json())
                    .isInstanceOf(KvEventFormatException.class).hasMessageContaining(c.message());
        }
        StringBuilder many = new StringBuilder("[");
        for (int i = 0; i <= KvEventCodec.MAX_EVENT_BLOCKS; i++) {
            many.append(i == 0 ? "" : ",").append("{\"block_hash\":1,\"tokens_hash\":2}");
        }
        assertThatThrownBy(() -> KvEventCodec.decodeEvent(json(String.format(ok, "{\"stored\":{\"blocks\":" + many
                + "]}}")))).isInstanceOf(KvEventFormatException.class).hasMessageContaining("more than 65536");
    }

    @Test
    void randomDamageNeverThrowsAnythingElse() {
        byte[] valid = KvEventCodec.encode(new KvEvent(12, 34, new KvEvent.Stored(OptionalLong.of(5),
                List.of(new KvEvent.StoredBlock(6, 7), new KvEvent.StoredBlock(8, 9)))));
        Random random = new Random(4);
        int decoded = 0;
        for (int i = 0; i < 5000; i++) {
            byte[] damaged = valid.clone();
            int edits = 1 + random.nextInt(4);
            String alphabet = "{}[]\",:0123456789-.eE truefalsn\u0000";
            for (int e = 0; e < edits; e++) {
                damaged[random.nextInt(damaged.length)] = (byte) alphabet.charAt(random.nextInt(alphabet.length()));
            }
            if (random.nextInt(10) == 0) {
                damaged = java.util.Arrays.copyOf(damaged, random.nextInt(damaged.length));
            }
            try {
                KvEventCodec.decodeEvent(damaged);
                decoded++;
            } catch (KvEventFormatException expected) {
                assertThat(expected.getMessage()).isNotBlank();
            }
        }
        assertThat(decoded).isLessThan(5000);
    }
}
