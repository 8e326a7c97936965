package dev.kvbm.backend.cuda;

import dev.kvbm.api.KvbmException;

/**
 * A CUDA driver call that returned an error: the message names the call, its arguments, and the driver's name and
 * description of the result, e.g. {@code cuMemAlloc_v2(bytes=1099511627776) failed: CUDA_ERROR_OUT_OF_MEMORY (out
 * of memory)}.
 */
public final class CudaException extends KvbmException {
    private static final long serialVersionUID = 1L;

    private final int result;
    private final String call;

    CudaException(String call, String arguments, int result, String name, String description) {
        super(call + "(" + arguments + ") failed: " + name + " (" + description + ")");
        this.result = result;
        this.call = call;
    }

    /** {@return the {@code CUresult} the driver returned, e.g. 2 for {@code CUDA_ERROR_OUT_OF_MEMORY}} */
    public int result() {
        return result;
    }

    /** {@return the driver function that failed, e.g. {@code cuMemAlloc_v2}} */
    public String call() {
        return call;
    }
}
