/**
 * The transport: layout handles, metadata export and import in Dynamo's wire format, and transfers between any two
 * registered layouts by the strategy the storage kinds call for. Depends on {@code dev.kvbm.layout} and
 * {@code dev.kvbm.bincode}; executors and agents are found through {@link dev.kvbm.api.spi.Backends}, never linked.
 */
module dev.kvbm.transport {
    requires transitive dev.kvbm.layout;
    requires dev.kvbm.bincode;

    exports dev.kvbm.transport;
}
