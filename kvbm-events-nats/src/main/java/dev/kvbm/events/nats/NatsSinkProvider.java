package dev.kvbm.events.nats;

import dev.kvbm.manager.events.KvEventSink;
import dev.kvbm.manager.events.KvEventSinkProvider;

import java.time.Duration;
import java.util.Map;
import java.util.Set;

/**
 * The {@code nats} KV event sink, for a manager's configuration: {@code events: {sink: nats, servers:
 * "nats://10.0.0.5:4222", namespace: prod}}, optionally {@code reconnect_buffer} (bytes kept while disconnected,
 * default 8 MiB; 0 none) and {@code snapshot_timeout_ms} (default 2000).
 */
public final class NatsSinkProvider implements KvEventSinkProvider {
    private static final Set<String> KEYS = Set.of("servers", "namespace", "reconnect_buffer", "snapshot_timeout_ms");

    /** For {@link java.util.ServiceLoader}. */
    public NatsSinkProvider() {
    }

    @Override
    public String name() {
        return "nats";
    }

    @Override
    public KvEventSink open(Map<String, String> settings) {
        for (String key : settings.keySet()) {
            if (!KEYS.contains(key)) {
                throw new IllegalArgumentException("events." + key + " is not a setting of the nats sink; allowed: "
                        + KEYS);
            }
        }
        String servers = settings.get("servers");
        String namespace = settings.get("namespace");
        if (servers == null || namespace == null) {
            throw new IllegalArgumentException("the nats sink needs events.servers (e.g. nats://10.0.0.5:4222) and"
                    + " events.namespace");
        }
        long buffer = number(settings, "reconnect_buffer", 8L << 20);
        long timeout = number(settings, "snapshot_timeout_ms", 2000);
        return NatsKvEvents.connect(new NatsKvEvents.Settings(servers, namespace, buffer, Duration.ofMillis(timeout)));
    }

    private static long number(Map<String, String> settings, String key, long fallback) {
        String v = settings.get(key);
        if (v == null) {
            return fallback;
        }
        try {
            return Long.parseLong(v.strip());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("events." + key + " is '" + v + "'; expected a whole number", e);
        }
    }
}
