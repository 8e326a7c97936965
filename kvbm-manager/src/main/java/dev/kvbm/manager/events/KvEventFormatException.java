package dev.kvbm.manager.events;

/** A KV event or snapshot from another process that is not what this format allows; the message says what. */
public final class KvEventFormatException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /**
     * @param message what is wrong, and where
     */
    public KvEventFormatException(String message) {
        super(message);
    }

    /**
     * @param message what is wrong, and where
     * @param cause   the parser's exception
     */
    public KvEventFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
