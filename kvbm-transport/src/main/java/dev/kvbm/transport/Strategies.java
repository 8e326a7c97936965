package dev.kvbm.transport;

import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.AgentProvider;

import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The transfer strategy table of this package's overview, as the words of an error: for a pair of local storage kinds that no
 * installed executor copies, which backend module would, and how.
 */
final class Strategies {

    private Strategies() {
    }

    /** The message for a local copy {@code source → destination} that no available executor provider supports. */
    static String noExecutor(StorageKind source, StorageKind destination) {
        StorageKind.Type s = source.type();
        StorageKind.Type d = destination.type();
        String how;
        if (s == StorageKind.Type.DISK && d == StorageKind.Type.DISK) {
            how = "no backend copies file to file directly; pass TransferOptions.bounceBuffer with blocks of a System"
                    + " or Pinned layout (kvbm-backend-system copies each hop)";
        } else if ((s == StorageKind.Type.DEVICE && d == StorageKind.Type.DISK)
                || (s == StorageKind.Type.DISK && d == StorageKind.Type.DEVICE)) {
            how = "Device<->Disk moves in two hops through a Pinned bounce buffer (TransferOptions.bounceBuffer):"
                    + " kvbm-backend-cuda copies Device<->Pinned and kvbm-backend-system copies Pinned<->Disk";
        } else if (s == StorageKind.Type.DEVICE || d == StorageKind.Type.DEVICE) {
            how = "kvbm-backend-cuda copies to and from GPU memory; add it to the module path on a machine with a"
                    + " CUDA driver";
        } else {
            how = "kvbm-backend-system copies host<->host and host<->disk; add it to the module path";
        }
        return String.format(Locale.ROOT, "no available executor copies %s -> %s: %s", source, destination, how);
    }

    /** The message for a transfer that needs an agent when this manager was built without one. */
    static String noAgent(String what) {
        return what + " needs a transfer agent, and this TransportManager was built withoutAgent(); build it with"
                + " an agent provider: kvbm-backend-system's 'local' (workers in one JVM) or kvbm-backend-nixl's"
                + " 'ucx' (across processes)";
    }

    /** The message for a build that found no available agent provider: each provider's own cause, or none found. */
    static String noAgentAtBuild(List<AgentProvider> providers) {
        String found = providers.isEmpty()
                ? "no agent provider is on the module or class path: add kvbm-backend-system (agent 'local', workers"
                        + " in one JVM) or kvbm-backend-nixl (agent 'ucx', across processes)"
                : providers.stream().map(p -> "'" + p.name() + "' is unavailable: "
                        + p.unavailabilityCause().map(Throwable::getMessage).orElse("?"))
                        .collect(Collectors.joining("; "));
        return "no transfer agent for this worker: " + found + ". For a worker that only copies between its own"
                + " layouts, call TransportManager.builder().withoutAgent()";
    }
}
