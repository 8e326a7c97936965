/**
 * The block manager: what an inference engine calls. Token blocks and their Dynamo-compatible hashes
 * ({@link dev.kvbm.manager.TokenBlockSequence}); the block pool that hands out blocks, registers them under their
 * sequence hash and gives them back to the next request with the same prefix ({@code BlockPool}); and
 * {@code KvBlockManager}, a pool per tier (G1, G2 host, G3 disk) with offload, onboard, remote block sets, events
 * and metrics. Depends on the transport (and through it the layout and the API), hash4j for XXH3 and Jackson for
 * configuration files.
 */
module dev.kvbm.manager {
    requires transitive dev.kvbm.transport;
    requires hash4j;
    requires com.fasterxml.jackson.databind;
    requires com.fasterxml.jackson.dataformat.yaml;

    exports dev.kvbm.manager;
    exports dev.kvbm.manager.events;

    uses dev.kvbm.manager.events.KvEventSinkProvider;
    provides dev.kvbm.manager.events.KvEventSinkProvider with dev.kvbm.manager.events.InProcessSinkProvider;
}
