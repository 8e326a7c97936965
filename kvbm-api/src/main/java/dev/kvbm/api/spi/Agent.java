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
 * connections in an order that is safe for the transport, and is idempotent. It may be called from any thread,
 * a transfer's completion callback included, and returns.
 */
public interface Agent extends AutoCloseable {

    /** {@return this agent's name, unique among the agents that talk to each other} */
    String name();

    /**
     * Makes all of {@code storage}'s memory reachable by peers and usable in local descriptor lists.
     *
     * @param storage live storage whose whole region is registered
     * @return the registration; closing it withdraws the memory again
     * @see #register(Storage, MemoryRegion)
     */
    default Registration register(Storage storage) {
        return register(storage, storage.region());
    }

    /**
     * Makes {@code region}, which lies inside {@code storage}, reachable by peers and usable in local descriptor
     * lists. The memory type and device follow the storage's kind ({@link MemType#of}; the GPU ordinal for
     * Device memory, the file descriptor for Disk, 0 for host memory). Only memory that a live storage owns can be
     * registered, never a bare address range.
     *
     * <p>The registration ends when it is closed, when the agent is closed, or when the storage is closed: the
     * agent attaches a withdrawal to the storage ({@link Storage#onClose}) that removes the registration and waits
     * for the transfers in flight on it, so the storage frees its memory only once no peer can reach it
     * (the lifetime rule of {@link Lifetime}). Regions may not overlap an existing registration.
     *
     * @param storage live storage that owns {@code region}
     * @param region  the bytes to register, inside {@code storage.region()}
     * @return the registration; closing it withdraws the memory again
     * @throws IllegalStateException    when the storage is closed or the agent is closed
     * @throws IllegalArgumentException when {@code region} is not inside the storage, overlaps a registration, or
     *                                  is memory this agent cannot reach (the message says which agent can)
     */
    Registration register(Storage storage, MemoryRegion region);

    /** {@return the blob peers load to reach this agent's registered memory; it reflects registrations made so far} */
    byte[] localMetadata();

    /**
     * Decodes only the agent name a peer's metadata blob carries, validating the whole blob, and loads nothing: a
     * caller checks the name (is it a peer already known under another identity?) before
     * {@link #loadRemoteMetadata} replaces what is loaded under it.
     *
     * @param metadata a peer's blob, as its {@link #localMetadata()} returned it; untrusted
     * @return the agent name the blob carries
     * @throws IllegalArgumentException when the bytes are not valid metadata
     */
    String remoteAgentName(byte[] metadata);

    /**
     * Loads a peer's metadata blob, replacing what was loaded earlier under the same name.
     *
     * @param metadata a peer's blob, as its {@link #localMetadata()} returned it; untrusted
     * @return the peer's agent name, which later transfers use
     * @throws IllegalArgumentException when the bytes are not valid metadata
     */
    String loadRemoteMetadata(byte[] metadata);

    /**
     * Forgets a peer; transfers naming it are rejected until its metadata is loaded again. If the peer had loaded
     * this agent's metadata, it is forgotten in that direction too: it is not asked to confirm later withdrawals
     * (the caller knows it is gone, e.g. from discovery).
     *
     * @param remoteAgent the peer's agent name, as {@link #loadRemoteMetadata} returned it
     */
    void invalidateRemote(String remoteAgent);

    /**
     * Validates and starts a transfer.
     *
     * @param transfer the operation, the local and remote descriptor lists, the peer and the optional notification
     * @return completes when the transfer is done, exceptionally when it failed
     * @throws IllegalArgumentException when a descriptor lies outside registered memory or the peer is unknown
     */
    CompletableFuture<Void> post(AgentTransfer transfer);

    /** {@return the notifications received so far, oldest first, removing them from the agent} */
    List<Notification> drainNotifications();

    @Override
    void close();

    /** A registered region; closing it withdraws the registration (idempotent). */
    interface Registration extends AutoCloseable {
        /** {@return the registered bytes} */
        MemoryRegion region();

        /** {@return the memory type peers see, from the storage's kind} */
        MemType memType();

        /** {@return the GPU ordinal for VRAM, the file descriptor for FILE, 0 for DRAM} */
        long deviceId();

        @Override
        void close();
    }
}
