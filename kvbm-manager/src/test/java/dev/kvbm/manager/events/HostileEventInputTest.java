package dev.kvbm.manager.events;

import dev.kvbm.manager.BlockPool;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

/**
 * The event side's public entry points tried as a hostile peer or a careless caller would: input nested beyond
 * reason, an index used after close, a sink that throws or closes its publisher from inside its own call.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class HostileEventInputTest {

    @Test
    void jsonNestedBeyondReasonIsCountedAsMalformedAndNeverOverflowsTheStack() {
        try (KvIndexer indexer = new KvIndexer(w -> new CompletableFuture<>(), Duration.ofSeconds(60))) {
            String deep = "{\"version\":1,\"worker_id\":1,\"event\":" + "[".repeat(200_000) + "]".repeat(200_000)
                    + "}";
            assertThat(indexer.acceptJson(deep.getBytes(StandardCharsets.UTF_8))).isFalse();
            String wide = "{\"version\":1,\"worker_id\":1,\"event\":{\"event_id\":2,\"data\":\"cleared\"},\"x\":\""
                    + "y".repeat(50_000_000) + "\"}";
            assertThat(indexer.acceptJson(wide.getBytes(StandardCharsets.UTF_8))).isFalse();
            assertThat(indexer.malformedEvents()).isEqualTo(2);
            assertThat(indexer.workers()).isEmpty();
        }
    }

    @Test
    void anIndexUsedAfterCloseNeitherThrowsNorStartsThreads() {
        KvIndexer indexer = new KvIndexer(w -> CompletableFuture.failedFuture(new IllegalStateException("down")),
                Duration.ofMillis(10), Duration.ofSeconds(1));
        indexer.close();
        assertThatCode(() -> {
            indexer.accept(new KvEvent(3, 9, 5, new KvEvent.Removed(new long[] {1}))); // a gap: asks, fails
            indexer.resync(4);
            indexer.forget(3);
            indexer.close();
        }).doesNotThrowAnyException();
    }

    @Test
    void aSinkThatThrowsOrClosesItsPublisherFromInsideItsCallNeitherHangsNorLosesTheCount() throws Exception {
        BlockPool pool = BlockPool.create("G1-hostile-sink", 16, 4, BlockPool.Duplicates.REFUSE);
        List<KvEvent> seen = new CopyOnWriteArrayList<>();
        KvEventPublisher[] self = new KvEventPublisher[1];
        KvEventSink sink = event -> {
            seen.add(event);
            if (seen.size() == 2) {
                self[0].close(); // from inside publish
            }
            throw new IllegalStateException("the transport is down (expected by this test)");
        };
        self[0] = new KvEventPublisher(5, pool, sink, Duration.ofMillis(5));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (seen.size() < 2 && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertThat(seen).as("the first event and a heartbeat reached the sink").hasSizeGreaterThanOrEqualTo(2);
        assertThat(self[0].failedEvents()).isPositive();
        Thread.sleep(100);
        int after = seen.size();
        Thread.sleep(100);
        assertThat(seen).as("nothing is published after close").hasSize(after);
        pool.close();
    }
}
