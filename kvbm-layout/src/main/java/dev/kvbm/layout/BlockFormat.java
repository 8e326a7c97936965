package dev.kvbm.layout;

/**
 * How the bytes inside a FullyContiguous block are arranged. Dynamo defines one format, the one inference engines
 * compute on; the enum exists so a descriptor can name it (wire index 0) and so a later format is a new constant.
 */
public enum BlockFormat {
    /** [layers, outer, page, inner] per block, as the attention kernels read it. */
    OPERATIONAL
}
