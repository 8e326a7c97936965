package dev.kvbm.backend.nixl;

import dev.kvbm.api.spi.Agent;
import dev.kvbm.api.spi.AgentProvider;
import org.openucx.jucx.NativeLibs;
import org.openucx.jucx.ucp.UcpContext;
import org.openucx.jucx.ucp.UcpParams;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The {@code ucx} agent: peers in other processes and on other hosts read and write this process's registered
 * memory with one-sided UCX operations (shared memory between processes on one host, TCP between hosts, RDMA where
 * the NIC has it), and the agent keeps the {@link dev.kvbm.api.spi.Lifetime} rule across processes: a peer that
 * loaded this agent's metadata is told to stop using a region before the region's memory is freed.
 *
 * <p>Availability: JUCX's native library and the system's {@code libucp.so.0} (Debian: {@code libucx0}) must load,
 * and JUCX's module must have native access ({@code --enable-native-access=jucx}, or {@code ALL-UNNAMED} on the
 * class path). Otherwise {@link #unavailabilityCause()} says which and how to fix it.
 *
 * <p>Agent options: every property {@code ucx.NAME} is passed to the agent's UCX context as configuration
 * {@code NAME} (as the environment variable {@code UCX_NAME} would be), e.g. {@code ucx.TLS=tcp} or
 * {@code ucx.NET_DEVICES=eth1}; the environment applies to whatever is not set this way. {@code secret} or
 * {@code secret_file} gives the fleet's cluster secret (else {@code KVBM_CLUSTER_SECRET} or
 * {@code KVBM_CLUSTER_SECRET_FILE} in the environment; see {@link ClusterAuth}); without one the agent runs in
 * trusted-network mode and says so. {@code notification_inbox_bytes} bounds the notifications waiting to be drained
 * (default 64 MiB).
 */
public final class UcxAgentProvider implements AgentProvider {

    /** Prefix of agent options passed to UCX as context configuration. */
    public static final String UCX_PROPERTY_PREFIX = "ucx.";
    /** Agent option: the notification inbox's bound, in bytes. */
    public static final String INBOX_OPTION = "notification_inbox_bytes";

    @Override
    public String name() {
        return "ucx";
    }

    @Override
    public String backend() {
        return "nixl";
    }

    @Override
    public Optional<Throwable> unavailabilityCause() {
        return Probe.CAUSE;
    }

    /**
     * A new agent with its own UCX context, worker and progress thread.
     *
     * @throws IllegalArgumentException when the name is empty or longer than 65535 UTF-8 bytes, or a UCX option is
     *                                  rejected by UCX
     */
    @Override
    public Agent create(String agentName, Options options) {
        Objects.requireNonNull(agentName, "agentName");
        Objects.requireNonNull(options, "options");
        ensureAvailable();
        Map<String, String> ucxConfig = new LinkedHashMap<>();
        Map<String, String> own = new LinkedHashMap<>();
        options.properties().forEach((key, value) -> {
            if (key.startsWith(UCX_PROPERTY_PREFIX) && key.length() > UCX_PROPERTY_PREFIX.length()) {
                ucxConfig.put(key.substring(UCX_PROPERTY_PREFIX.length()), value);
            } else if (key.equals(ClusterAuth.SECRET_OPTION) || key.equals(ClusterAuth.SECRET_FILE_OPTION)
                    || key.equals(INBOX_OPTION)) {
                own.put(key, value);
            } else {
                throw new IllegalArgumentException("agent option '" + key + "' is not known to the ucx agent: use "
                        + UCX_PROPERTY_PREFIX + "NAME=value for UCX configuration NAME (e.g. ucx.TLS=tcp), "
                        + ClusterAuth.SECRET_OPTION + " or " + ClusterAuth.SECRET_FILE_OPTION + " for the cluster"
                        + " secret, or " + INBOX_OPTION);
            }
        });
        long inbox = UcxAgent.DEFAULT_INBOX_BYTES;
        if (own.containsKey(INBOX_OPTION)) {
            String v = own.get(INBOX_OPTION);
            try {
                inbox = Long.parseLong(v.trim());
            } catch (NumberFormatException e) {
                inbox = -1;
            }
            if (inbox < Wire.MAX_NOTIFICATION_BYTES) {
                throw new IllegalArgumentException("agent option '" + INBOX_OPTION + "' is '" + v + "'; give a number"
                        + " of bytes, at least one notification's " + Wire.MAX_NOTIFICATION_BYTES);
            }
        }
        ClusterAuth auth = ClusterAuth.fromOptions(own, System.getenv());
        return UcxAgent.open(agentName, options.peerTimeout(), ucxConfig, auth, inbox);
    }

    /** Loads JUCX and UCX once per JVM and remembers why that failed, if it did. */
    private static final class Probe {
        static final Optional<Throwable> CAUSE = probe();

        private static Optional<Throwable> probe() {
            Module jucx = NativeLibs.class.getModule();
            if (!jucx.isNativeAccessEnabled()) {
                String flag = "--enable-native-access=" + (jucx.isNamed() ? jucx.getName() : "ALL-UNNAMED");
                return Optional.of(new UnsupportedOperationException(
                        "the ucx agent needs native access for JUCX, which loads libjucx.so and the system's UCX:"
                                + " start the JVM with " + flag));
            }
            try {
                NativeLibs.load();
                try (UcpContext context = new UcpContext(new UcpParams().requestRmaFeature().requestAmFeature()
                        .requestWakeupFeature())) {
                    context.getMemoryTypesMask();
                }
                return Optional.empty();
            } catch (Throwable t) {
                return Optional.of(new UnsupportedOperationException(String.format(Locale.ROOT,
                        "UCX cannot be loaded (%s): the ucx agent needs the system's libucp.so.0 from UCX 1.13"
                                + " (Debian 12: apt-get install libucx0)", t), t));
            }
        }
    }
}
