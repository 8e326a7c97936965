/**
 * The block manager: what an inference engine calls. Token blocks and their Dynamo-compatible hashes
 * ({@link dev.kvbm.manager.TokenBlockSequence}), and the block pool that hands out blocks, registers them under
 * their sequence hash and gives them back to the next request with the same prefix
 * ({@code BlockPool}). Depends on the transport (and through it the layout and the API) and on
 * hash4j for XXH3.
 */
module dev.kvbm.manager {
    requires transitive dev.kvbm.transport;
    requires hash4j;
    requires com.fasterxml.jackson.databind;
    requires com.fasterxml.jackson.dataformat.yaml;

    exports dev.kvbm.manager;
}
