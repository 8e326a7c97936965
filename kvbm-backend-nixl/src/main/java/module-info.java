/**
 * The {@code ucx} agent (backend {@code nixl}): the NIXL model of one-sided READ and WRITE between registered
 * memory of different processes and hosts, on UCX through JUCX and the system's {@code libucp}; and
 * {@code ucx-host} storage, host memory UCX allocates so that peers on the same host reach it through shared
 * memory. Depends on {@code dev.kvbm.api} and JUCX only. JUCX loads its native library from its own module, so the
 * JVM needs {@code --enable-native-access=jucx} on the module path ({@code ALL-UNNAMED} on the class path), and
 * {@code ucx-host} storage also {@code dev.kvbm.backend.nixl}.
 */
module dev.kvbm.backend.nixl {
    requires dev.kvbm.api;
    requires jucx;

    provides dev.kvbm.api.spi.AgentProvider with dev.kvbm.backend.nixl.UcxAgentProvider;
    provides dev.kvbm.api.spi.StorageProvider with dev.kvbm.backend.nixl.UcxHostStorageProvider;
}
