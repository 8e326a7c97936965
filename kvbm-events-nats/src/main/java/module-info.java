/**
 * KV events over NATS: {@link dev.kvbm.events.nats.NatsKvEvents}, a {@code KvEventSink} and {@code SnapshotSource}
 * on jnats. Depends on the manager and jnats only.
 */
module dev.kvbm.events.nats {
    requires transitive dev.kvbm.manager;
    requires io.nats.jnats;

    exports dev.kvbm.events.nats;

    provides dev.kvbm.manager.events.KvEventSinkProvider with dev.kvbm.events.nats.NatsSinkProvider;
}
