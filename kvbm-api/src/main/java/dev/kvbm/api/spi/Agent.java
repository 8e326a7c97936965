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

    /** This agent's name, unique among the agents that talk to each other. */
    String name();

    /**
     * Makes all of {@code storage}'s memory reachable by peers and usable in local descriptor lists.
     *
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
     * @throws IllegalStateException    when the storage is closed or the agent is closed
     * @throws IllegalArgumentException when {@code region} is not inside the storage, overlaps a registration, or
     *                                  is memory this agent cannot reach (the message says which agent can)
     */
    Registration register(Storage storage, MemoryRegion region);

    /** The blob peers load to reach this agent's registered memory; it reflects registrations made so far. */
    byte[] localMetadata();

    /**
     * Decodes only the agent name a peer's metadata blob carries, validating the whole blob, and loads nothing: a
     * caller checks the name (is it a peer already known under another identity?) before
     * {@link #loadRemoteMetadata} replaces what is loaded under it.
     *
     * @throws IllegalArgumentException when the bytes are not valid metadata
     */
    String remoteAgentName(byte[] metadata);

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
        /** The registered bytes. */
        MemoryRegion region();

        /** The memory type peers see, from the storage's kind. */
        MemType memType();

        /** GPU ordinal for VRAM, file descriptor for FILE, 0 for DRAM. */
        long deviceId();

        @Override
        void close();
    }
}
