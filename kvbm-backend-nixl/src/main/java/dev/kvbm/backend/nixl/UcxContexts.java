package dev.kvbm.backend.nixl;

import org.openucx.jucx.ucp.UcpContext;
import org.openucx.jucx.ucp.UcpParams;

/**
 * The UCX context this JVM's agents and {@link UcxHostStorageProvider} share (each agent has its own worker on it),
 * so that memory UCX allocated is registered, and reachable through shared memory, for every agent. It lives as long
 * as the JVM: UCX aborts the process when a context is closed with registrations or rkeys still open, and
 * storage may outlive any one agent. An agent given UCX configuration of its own gets a context of its own.
 */
final class UcxContexts {
    private static UcpContext shared; // guarded by UcxContexts.class

    private UcxContexts() {
    }

    static UcpParams params() {
        return new UcpParams().requestRmaFeature().requestAmFeature().requestWakeupFeature();
    }

    static synchronized UcpContext shared() {
        if (shared == null) {
            // Workers of several agents, each on its own thread, map and unmap memory in it concurrently.
            shared = new UcpContext(params().setMtWorkersShared(true));
        }
        return shared;
    }
}
