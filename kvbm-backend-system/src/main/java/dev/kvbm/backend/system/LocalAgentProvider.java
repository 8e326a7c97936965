package dev.kvbm.backend.system;

import dev.kvbm.api.spi.Agent;
import dev.kvbm.api.spi.AgentProvider;

import java.util.Objects;
import java.util.Optional;

/**
 * The {@code local} agent: workers that share one JVM (a Java server often runs all its tensor-parallel ranks in
 * one process) read and write each other's registered host memory directly, with the same contract the UCX agent
 * keeps across processes. Agents find each other by name in a directory private to this module, so a metadata blob
 * only reaches agents alive in this JVM.
 *
 * <p>Copies go through raw addresses, so the provider needs native access for this module
 * ({@code --enable-native-access=dev.kvbm.backend.system}); without it the provider is unavailable and says so.
 * Agent option {@value #THREADS_PROPERTY} sets the copy threads per agent (default 2).
 */
public final class LocalAgentProvider implements AgentProvider {

    /** Agent option: copy threads per agent. */
    public static final String THREADS_PROPERTY = "threads";

    @Override
    public String name() {
        return "local";
    }

    @Override
    public String backend() {
        return "system";
    }

    /** {@return false: the local agent's peers live in this JVM} */
    @Override
    public boolean reachesOtherProcesses() {
        return false;
    }

    @Override
    public Optional<Throwable> unavailabilityCause() {
        Module module = LocalAgentProvider.class.getModule();
        if (module.isNativeAccessEnabled()) {
            return Optional.empty();
        }
        String flag = "--enable-native-access=" + (module.isNamed() ? module.getName() : "ALL-UNNAMED");
        return Optional.of(new UnsupportedOperationException(
                "the local agent copies through raw addresses and needs native access: start the JVM with " + flag));
    }

    /**
     * A new agent named {@code agentName}.
     *
     * @throws IllegalStateException when an open agent in this JVM already has that name
     */
    @Override
    public Agent create(String agentName, Options options) {
        Objects.requireNonNull(agentName, "agentName");
        Objects.requireNonNull(options, "options");
        ensureAvailable();
        if (agentName.isEmpty()) {
            throw new IllegalArgumentException("agent name must not be empty");
        }
        for (String key : options.properties().keySet()) {
            if (!key.equals(THREADS_PROPERTY)) {
                throw new IllegalArgumentException("agent option '" + key + "' is not known to the local agent: it takes "
                        + THREADS_PROPERTY + "=N (copy threads, default 2)");
            }
        }
        String threads = options.properties().getOrDefault(THREADS_PROPERTY, "2");
        int count;
        try {
            count = Integer.parseInt(threads);
        } catch (NumberFormatException e) {
            count = 0;
        }
        if (count < 1) {
            throw new IllegalArgumentException("agent option " + THREADS_PROPERTY + " = '" + threads
                    + "' is not allowed: must be an integer >= 1");
        }
        return LocalAgent.open(agentName, options.peerTimeout(), count);
    }
}
