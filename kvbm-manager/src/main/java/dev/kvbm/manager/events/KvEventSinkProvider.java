package dev.kvbm.manager.events;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;

/**
 * Makes the {@link KvEventSink} a configuration names ({@code events: {sink: NAME, ...}}), found through
 * {@link ServiceLoader}: {@code in-process} here (the JVM's {@link KvEventBus#shared() bus}), {@code nats} in
 * {@code kvbm-events-nats}.
 */
public interface KvEventSinkProvider {
    /** {@return the name a configuration uses} */
    String name();

    /**
     * Opens a sink.
     *
     * @param settings the configuration's other keys, e.g. {@code servers} and {@code namespace} for NATS
     * @return the sink; the manager closes it when it closes
     * @throws IllegalArgumentException when a setting is missing or wrong, naming it
     */
    KvEventSink open(Map<String, String> settings);

    /**
     * The provider called {@code name}.
     *
     * @param name e.g. {@code in-process} or {@code nats}
     * @return the provider
     * @throws IllegalArgumentException naming those found when none is called so
     */
    static KvEventSinkProvider named(String name) {
        List<KvEventSinkProvider> all = new ArrayList<>();
        ServiceLoader.load(KvEventSinkProvider.class).forEach(all::add);
        return all.stream().filter(p -> p.name().equals(name)).findFirst().orElseThrow(() ->
                new IllegalArgumentException("no KV event sink '" + name + "'; found: "
                        + all.stream().map(KvEventSinkProvider::name).toList()
                        + (name.equals("nats") ? " (nats is in kvbm-events-nats: add it to the module or class path)"
                        : "")));
    }
}
