package dev.kvbm.api.spi;

import dev.kvbm.api.MemType;
import dev.kvbm.api.MemoryRegion;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * A transfer agent in the NIXL model: it makes local memory reachable by peers and moves bytes to and from a
 * peer's memory with one-sided READ and WRITE.
 *
 * <p>The protocol: each agent {@linkplain #register registers} the memory it will expose or use, publishes
 * {@link #localMetadata()} (a self-describing blob naming the agent and its registered regions plus whatever the
 * transport needs to reach them), and loads each peer's blob with {@link #loadRemoteMetadata(byte[])}. From then
 * on {@link #post(AgentTransfer)} moves descriptor lists between the two.
 *
 * <p>Rules every implementation keeps (the TCK checks them):
 * <ul>
 *   <li>Only registered memory is reachable: a local descriptor outside this agent's registered regions, or a
 *       remote one outside the peer's, is rejected before anything moves.</li>
 *   <li>The future of a transfer completes only after all its bytes landed; it fails with the cause otherwise,
 *       and it fails within the configured peer timeout when the peer dies.</li>
 *   <li>A transfer's notification is delivered to the peer exactly once, after its data.</li>
 *   <li>After {@link #invalidateRemote(String)} the peer is unknown again: transfers naming it are rejected.</li>
 *   <li>Metadata from another process is untrusted: malformed bytes fail with an exception, never a crash.</li>
 * </ul>
 *
 * <p>Agents are thread-safe. {@link #close()} fails transfers still pending, releases registrations and
 * connections in an order that is safe for the transport, and is idempotent.
 */
public interface Agent extends AutoCloseable {

    /** This agent's name, unique among the agents that talk to each other. */
    String name();

    /**
     * Makes {@code region} reachable by peers and usable in local descriptor lists. Closing the returned
     * registration withdraws it; regions may not overlap an existing registration of the same memory type.
     *
     * @param deviceId GPU ordinal for VRAM, file descriptor for FILE, 0 for DRAM
     */
    Registration register(MemoryRegion region, MemType memType, long deviceId);

    /** The blob peers load to reach this agent's registered memory; it reflects registrations made so far. */
    byte[] localMetadata();

    /**
     * Loads a peer's metadata blob, replacing what was loaded earlier under the same name.
     *
     * @return the peer's agent name, which later transfers use
     * @throws IllegalArgumentException when the bytes are not valid metadata
     */
    String loadRemoteMetadata(byte[] metadata);

    /** Forgets a peer; transfers naming it are rejected until its metadata is loaded again. */
    void invalidateRemote(String remoteAgent);

    /**
     * Validates and starts a transfer.
     *
     * @throws IllegalArgumentException when a descriptor lies outside registered memory or the peer is unknown
     */
    CompletableFuture<Void> post(AgentTransfer transfer);

    /** Removes and returns the notifications received so far, oldest first. */
    List<Notification> drainNotifications();

    @Override
    void close();

    /** A registered region; closing it withdraws the registration (idempotent). */
    interface Registration extends AutoCloseable {
        MemoryRegion region();

        MemType memType();

        long deviceId();

        @Override
        void close();
    }
}
