package dev.kvbm.manager;

import dev.kvbm.api.KvbmException;

import java.util.Locale;

/** A pool could not hand out as many blocks as asked: free and evictable blocks together are fewer. */
public final class NotEnoughBlocksException extends KvbmException {
    private static final long serialVersionUID = 1L;
    private final int asked;
    private final int available;

    NotEnoughBlocksException(String pool, int asked, int available) {
        super(String.format(Locale.ROOT, "pool %s cannot allocate %d blocks: %d are free or evictable; release"
                + " blocks, or ask for at most %d", pool, asked, available, available));
        this.asked = asked;
        this.available = available;
    }

    /** {@return the number of blocks asked for} */
    public int asked() {
        return asked;
    }

    /** {@return the number of blocks that could have been handed out} */
    public int available() {
        return available;
    }
}
