package dev.kvbm.api;

/**
 * How the tokens, heads and head dimension of one page are ordered inside a region. The block manager never
 * interprets the bytes of a region, so this is informative: it travels with a layout descriptor so a peer can
 * tell whether the two sides agree.
 */
public enum InnerShape {
    /** Not known; the fallback when tensors could not tell. */
    UNKNOWN,
    /** [tokens, heads, head_dim]. */
    NHD,
    /** [heads, tokens, head_dim]. */
    HND
}
