package dev.kvbm.manager.events;

import java.util.Map;

/** The {@code in-process} sink: the JVM's shared {@link KvEventBus}, which outlives every manager using it. */
public final class InProcessSinkProvider implements KvEventSinkProvider {
    /** For {@link java.util.ServiceLoader}. */
    public InProcessSinkProvider() {
    }

    @Override
    public String name() {
        return "in-process";
    }

    @Override
    public KvEventSink open(Map<String, String> settings) {
        if (!settings.isEmpty()) {
            throw new IllegalArgumentException("the in-process KV event sink takes no settings, got " + settings.keySet());
        }
        KvEventBus bus = KvEventBus.shared();
        return new KvEventSink() {
            @Override
            public void publish(KvEvent event) {
                bus.publish(event);
            }

            @Override
            public AutoCloseable serveSnapshots(KvEventPublisher publisher) {
                return bus.serveSnapshots(publisher);
            }
        };
    }
}
