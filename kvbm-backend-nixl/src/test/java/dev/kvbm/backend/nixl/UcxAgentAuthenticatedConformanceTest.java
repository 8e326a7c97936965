package dev.kvbm.backend.nixl;

/** The {@code ucx} agent against the kit's agent rules again, every agent of the run given a cluster secret. */
class UcxAgentAuthenticatedConformanceTest extends UcxAgentConformanceTest {
    @Override
    protected String secret() {
        return "the conformance run's cluster secret";
    }
}
