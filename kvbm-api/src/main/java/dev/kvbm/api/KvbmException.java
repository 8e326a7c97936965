package dev.kvbm.api;

/**
 * Base of the unchecked exceptions kvbm-java throws for failures that are not a caller's programming error:
 * memory that could not be allocated, I/O that failed, a peer that went away.
 */
public class KvbmException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates the exception with a message.
     *
     * @param message what was wrong and what would be right
     */
    public KvbmException(String message) {
        super(message);
    }

    /**
     * Creates the exception with a message and the failure that caused it.
     *
     * @param message what was wrong and what would be right
     * @param cause
   the underlying failure
     */
    public KvbmException(String message, Throwable cause) {
        super(message, cause);
    }
}
