package dev.kvbm.api.spi;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The lifetime rule's order and its edges, on the class every storage embeds. */
@Timeout(value = 1, unit = TimeUnit.MINUTES)
class LifetimeTest {
    private final List<String> events = new CopyOnWriteArrayList<>();
    private final Lifetime lifetime = new Lifetime(() -> "test storage");
    // Own threads: the common pool may have a single thread on a small machine, and closes here block.
    private final ExecutorService threads = Executors.newFixedThreadPool(4);

    @AfterEach
    void stopThreads() {
        threads.shutdownNow();
    }

    @Test
    void closeWithdrawsThenWaitsForLeasesThenFrees() throws Exception {
        lifetime.onClose("registration", () -> events.add("withdrawn"));
        Lifetime.Lease lease = lifetime.acquire();
        CompletableFuture<Boolean> closing = CompletableFuture.supplyAsync(() -> lifetime.close(() -> events.add("freed")),
                threads);
        while (!events.contains("withdrawn")) {
            Thread.onSpinWait();
        }
        assertThat(lifetime.isOpen()).isFalse();
        assertThatThrownBy(lifetime::acquire).isInstanceOf(IllegalStateException.class)
                .hasMessage("test storage is closing and cannot be accessed");
        assertThat(closing).isNotDone();
        assertThat(events).containsExactly("withdrawn"); // not freed while the lease is held
        events.add("released");
        lease.close();
        lease.close(); // idempotent: must not release a second lease
        assertThat(closing.get(30, TimeUnit.SECONDS)).isTrue();
        assertThat(events).containsExactly("withdrawn", "released", "freed");
        assertThat(lifetime.isClosed()).isTrue();
        assertThat(lifetime.close(() -> events.add("freed twice"))).isFalse();
        assertThat(events).doesNotContain("freed twice");
        assertThatThrownBy(() -> lifetime.onClose("late", () -> { })).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("is closed and cannot be registered (late)");
    }

    @Test
    void aDetachedWithdrawalDoesNotRunAndAFailingOneDoesNotStopTheClose() {
        Lifetime.Hook detached = lifetime.onClose("detached", () -> events.add("detached ran"));
        lifetime.onClose("failing", () -> {
            throw new IllegalStateException("withdrawal failed (expected by this test)");
        });
        lifetime.onClose("after", () -> events.add("after ran"));
        detached.close();
        assertThat(lifetime.holders()).contains("0 lease(s)", "[failing, after]");
        assertThat(lifetime.close(() -> events.add("freed"))).isTrue();
        assertThat(events).containsExactly("after ran", "freed");
    }

    @Test
    void aWithdrawalThatClosesItsOwnStorageReturnsInsteadOfWaitingForItself() {
        AtomicInteger inner = new AtomicInteger(-1);
        lifetime.onClose("closes again", () -> inner.set(lifetime.close(() -> events.add("inner freed")) ? 1 : 0));
        assertThat(lifetime.close(() -> events.add("freed"))).isTrue();
        assertThat(inner.get()).isZero();
        assertThat(events).containsExactly("freed");
    }

    @Test
    void aFailedFreeLeavesTheStorageOpenAndALaterCloseFreesIt() {
        assertThatThrownBy(() -> lifetime.close(() -> {
            throw new IllegalStateException("in use by a native call");
        })).hasMessage("in use by a native call");
        assertThat(lifetime.isOpen()).isTrue();
        lifetime.acquire().close();
        assertThat(lifetime.close(() -> events.add("freed"))).isTrue();
    }

    @Test
    void concurrentClosesFreeOnceAndAllReturnAfterTheFree() throws Exception {
        Lifetime.Lease lease = lifetime.acquire();
        CountDownLatch started = new CountDownLatch(4);
        List<CompletableFuture<Boolean>> closes = new CopyOnWriteArrayList<>();
        for (int i = 0; i < 4; i++) {
            closes.add(CompletableFuture.supplyAsync(() -> {
                started.countDown();
                return lifetime.close(() -> events.add("freed"));
            }, threads));
        }
        started.await();
        lease.close();
        long freedBy = 0;
        for (CompletableFuture<Boolean> c : closes) {
            freedBy += c.get(30, TimeUnit.SECONDS) ? 1 : 0;
            assertThat(lifetime.isClosed()).isTrue();
        }
        assertThat(freedBy).isEqualTo(1);
        assertThat(events).containsExactly("freed");
    }

    @Test
    void anInterruptDoesNotFreeEarlyAndIsKeptForTheCallerThatWasInterrupted() throws Exception {
        Lifetime.Lease lease = lifetime.acquire();
        CompletableFuture<Boolean> interruptedAfterClose = new CompletableFuture<>();
        Thread closer = new Thread(() -> {
            lifetime.close(() -> events.add("freed"));
            interruptedAfterClose.complete(Thread.currentThread().isInterrupted());
        });
        closer.start();
        while (lifetime.isOpen()) {
            Thread.onSpinWait();
        }
        closer.interrupt();
        Thread.sleep(50); // the interrupt must not end the wait: the lease is still held
        assertThat(events).isEmpty();
        lease.close();
        assertThat(interruptedAfterClose.get(30, TimeUnit.SECONDS)).isTrue();
        assertThat(events).containsExactly("freed");
        assertThat(Thread.currentThread().isInterrupted()).isFalse();
    }
}
