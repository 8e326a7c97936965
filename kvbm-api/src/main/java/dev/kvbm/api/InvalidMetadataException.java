package dev.kvbm.api;

/**
 * Metadata that cannot be accepted: bytes or descriptors from another worker (or a file) that are malformed, of an
 * unsupported version, or that describe memory inconsistent with their own configuration. Decoders throw nothing
 * else for bad input, so a caller that handles this exception has handled every malformed message.
 */
public class InvalidMetadataException extends KvbmException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates the exception with a message.
     *
     * @param message what was wrong and what would be right
     */
    public InvalidMetadataException(String message) {
        super(message);
    }

    /**
     * Creates the exception with a message and the failure that caused it.
     *
     * @param message what was wrong and what would be right
     * @param cause
   the underlying failure
     */
    public InvalidMetadataException(String message, Throwable cause) {
        super(message, cause);
    }
}
