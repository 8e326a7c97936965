package dev.kvbm.backend.nixl;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * How a ucx agent proves to its peers that its metadata and control messages come from a member of the fleet, and
 * checks theirs: HMAC-SHA-256 (the JDK's) with a key derived from a secret every member of the fleet is given.
 *
 * <p>Every control message travels in an envelope that names the sender's run (a random instance id drawn when the
 * agent starts) and a counter, and carries a MAC over the envelope and the receiver's name: a message forged without
 * the secret, sent to another agent than the one it was made for, or replayed is refused before it is acted on
 * ({@link Replay}). Metadata carries the instance and a generation under a MAC of its own, checked before UCX sees
 * a byte of it (UCX cannot validate the packed rkeys it unpacks: forged ones can crash it).
 *
 * <p>Without a secret the agent runs in <em>trusted-network</em> mode: envelopes carry the instance and counter but
 * no MAC, and anyone who reaches the agent's worker can attach, revoke or notify under any name. The two modes do
 * not talk to each other: each refuses the other's metadata and messages, naming what to change. What a shared
 * secret does not protect against: a member of the fleet (it holds the secret, so it can speak as any member), and
 * anything on the data path (one-sided reads and writes are UCX's, authorised by the rkeys a peer was given).
 *
 * <p>The secret comes from the agent option {@code secret} (the secret itself) or {@code secret_file} (a file
 * holding it; a trailing newline is ignored), else from the environment, {@code KVBM_CLUSTER_SECRET} or
 * {@code KVBM_CLUSTER_SECRET_FILE}. It must be at least {@value #MIN_SECRET_BYTES} bytes. It is never logged and
 * never kept apart from the derived key.
 */
final class ClusterAuth {
    static final String SECRET_OPTION = "secret";
    static final String SECRET_FILE_OPTION = "secret_file";
    static final String SECRET_ENV = "KVBM_CLUSTER_SECRET";
    static final String SECRET_FILE_ENV = "KVBM_CLUSTER_SECRET_FILE";
    static final int MIN_SECRET_BYTES = 16;
    static final int MAX_SECRET_BYTES = 4096;
    static final int MAC_BYTES = 32;
    static final int INSTANCE_BYTES = 16;
    /** Envelope modes, its first byte. */
    static final byte TRUSTED = 0;
    static final byte HMAC_SHA256 = 1;
    private static final byte[] KEY_LABEL = "kvbm ucx agent control plane v1".getBytes(StandardCharsets.US_ASCII);
    private static final byte DOMAIN_MESSAGE = 'C';
    private static final byte DOMAIN_METADATA = 'M';
    private static final SecureRandom RANDOM = new SecureRandom();

    private final SecretKeySpec key; // null: trusted network
    private final byte[] instance = new byte[INSTANCE_BYTES];
    private final AtomicLong counter = new AtomicLong();
    private final String source; // where the secret came from, for the start-up line (never the secret)

    private ClusterAuth(byte[] secret, String source) {
        this.source = source;
        RANDOM.nextBytes(instance);
        if (secret == null) {
            this.key = null;
            return;
        }
        try {
            Mac derive = Mac.getInstance("HmacSHA256");
            derive.init(new SecretKeySpec(secret, "HmacSHA256"));
            this.key = new SecretKeySpec(derive.doFinal(KEY_LABEL), "HmacSHA256");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("this JDK has no HmacSHA256: " + e, e);
        } finally {
            Arrays.fill(secret, (byte) 0);
        }
    }

    /** An agent without a secret: trusted-network mode. */
    static ClusterAuth trustedNetwork() {
        return new ClusterAuth(null, "none");
    }

    /** An agent with this secret (consumed: zeroed). */
    static ClusterAuth withSecret(byte[] secret) {
        return new ClusterAuth(checked(secret, "the secret"), "given");
    }

    /**
     * The agent's secret from its options ({@code secret}, {@code secret_file}), else from the environment; none:
     * trusted-network mode.
     *
     * @throws IllegalArgumentException when both options are given, the file cannot be read, or the secret is
     *                                  shorter than {@value #MIN_SECRET_BYTES} bytes; the message never shows it
     */
    static ClusterAuth fromOptions(Map<String, String> options, Map<String, String> environment) {
        String inline = options.get(SECRET_OPTION);
        String file = options.get(SECRET_FILE_OPTION);
        if (inline != null && file != null) {
            throw new IllegalArgumentException("agent options '" + SECRET_OPTION + "' and '" + SECRET_FILE_OPTION
                    + "' were both given; give the cluster secret one way");
        }
        if (inline == null && file == null) {
            inline = environment.get(SECRET_ENV);
            file = environment.get(SECRET_FILE_ENV);
            if (inline != null && file != null) {
                throw new IllegalArgumentException("both " + SECRET_ENV + " and " + SECRET_FILE_ENV
                        + " are set; give the cluster secret one way");
            }
            if (inline != null) {
                return new ClusterAuth(checked(inline.getBytes(StandardCharsets.UTF_8), SECRET_ENV), SECRET_ENV);
            }
            if (file != null) {
                return new ClusterAuth(checked(read(Path.of(file), SECRET_FILE_ENV), SECRET_FILE_ENV + " " + file),
                        SECRET_FILE_ENV + " " + file);
            }
            return trustedNetwork();
        }
        if (inline != null) {
            return new ClusterAuth(checked(inline.getBytes(StandardCharsets.UTF_8), "agent option '" + SECRET_OPTION
                    + "'"), "agent option " + SECRET_OPTION);
        }
        return new ClusterAuth(checked(read(Path.of(file), "agent option '" + SECRET_FILE_OPTION + "'"),
                "the file " + file), "file " + file);
    }

    private static byte[] read(Path file, String what) {
        // Bounded whatever the file is: a device such as /dev/zero reports no size and never ends.
        try (var in = Files.newInputStream(file)) {
            byte[] bytes = in.readNBytes(MAX_SECRET_BYTES + 3);
            if (bytes.length > MAX_SECRET_BYTES + 2) {
                Arrays.fill(bytes, (byte) 0);
                throw new IllegalArgumentException(what + ": " + file + " holds more than " + MAX_SECRET_BYTES
                        + " bytes; a cluster secret is " + MIN_SECRET_BYTES + ".." + MAX_SECRET_BYTES + " bytes");
            }
            int n = bytes.length;
            if (n > 0 && bytes[n - 1] == '\n') {
                n--;
                if (n > 0 && bytes[n - 1] == '\r') {
                    n--;
                }
            }
            byte[] secret = Arrays.copyOf(bytes, n);
            Arrays.fill(bytes, (byte) 0);
            return secret;
        } catch (IOException e) {
            throw new IllegalArgumentException(what + ": cannot read the cluster secret from " + file + ": " + e, e);
        }
    }

    private static byte[] checked(byte[] secret, String what) {
        if (secret.length < MIN_SECRET_BYTES || secret.length > MAX_SECRET_BYTES) {
            int n = secret.length;
            Arrays.fill(secret, (byte) 0);
            throw new IllegalArgumentException(String.format(Locale.ROOT, "%s holds a cluster secret of %d bytes; it"
                    + " must be %d..%d bytes (e.g. 32 random bytes: head -c 32 /dev/urandom | base64)", what, n,
                    MIN_SECRET_BYTES, MAX_SECRET_BYTES));
        }
        return secret;
    }

    boolean authenticated() {
        return key != null;
    }

    /** {@return the mode as the agent's start-up line says it; never the secret} */
    String describe() {
        return authenticated()
                ? "authenticated control plane (HMAC-SHA-256 with the cluster secret from " + source + ")"
                : "trusted-network mode: no cluster secret (agent option '" + SECRET_OPTION + "' or " + SECRET_ENV
                + "), so metadata and control messages are not authenticated and any host that reaches this worker"
                + " can attach, revoke or notify under any agent's name";
    }

    byte[] instance() {
        return instance.clone();
    }

    String instanceHex() {
        return HexFormat.of().formatHex(instance);
    }

    // ---------------------------------------------------------------- control messages

    /**
     * Wraps a control message for {@code receiver}: {@code u8 mode, u64 length, message, instance[16], u64 counter}
     * and, when authenticated, a MAC over those bytes and the receiver's name.
     */
    byte[] seal(byte[] message, String receiver) {
        int size = 1 + 8 + message.length + INSTANCE_BYTES + 8 + (authenticated() ? MAC_BYTES : 0);
        ByteBuffer out = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        out.put(authenticated() ? HMAC_SHA256 : TRUSTED).putLong(message.length).put(message).put(instance)
                .putLong(counter.incrementAndGet());
        if (authenticated()) {
            out.put(mac(DOMAIN_MESSAGE, receiver, out.array(), out.position()));
        }
        return out.array();
    }

    /** A control message out of its envelope, with the sender's run and counter, its MAC (if any) checked. */
    record Opened(byte[] message, byte[] instance, long counter) {
    }

    /**
     * Opens an envelope addressed to {@code receiver}.
     *
     * @throws Wire.MalformedException when it is not an envelope, is of the other mode, or its MAC does not verify
     */
    Opened open(ByteBuffer in, String receiver) throws Wire.MalformedException {
        in.order(ByteOrder.LITTLE_ENDIAN);
        int start = in.position();
        int total = in.remaining();
        if (total < 1) {
            throw new Wire.MalformedException(0, "an empty control message");
        }
        byte mode = in.get();
        if (mode != TRUSTED && mode != HMAC_SHA256) {
            throw new Wire.MalformedException(0, "unknown envelope mode " + mode);
        }
        if (mode == TRUSTED && authenticated()) {
            throw new Wire.MalformedException(0, "an unauthenticated control message (its sender runs in"
                    + " trusted-network mode): give every agent of the fleet the same cluster secret");
        }
        if (mode == HMAC_SHA256 && !authenticated()) {
            throw new Wire.MalformedException(0, "an authenticated control message, and this agent has no cluster"
                    + " secret: give it the fleet's (agent option '" + SECRET_OPTION + "' or " + SECRET_ENV + ")");
        }
        int tail = INSTANCE_BYTES + 8 + (authenticated() ? MAC_BYTES : 0);
        if (total < 1 + 8 + tail) {
            throw new Wire.MalformedException(total, "the envelope ends early (" + total + " bytes)");
        }
        long length = in.getLong();
        if (length < 0 || length != total - 1 - 8 - tail) {
            throw new Wire.MalformedException(1, "the message length " + Long.toUnsignedString(length)
                    + " does not match the envelope of " + total + " bytes");
        }
        byte[] message = new byte[(int) length];
        in.get(message);
        byte[] sender = new byte[INSTANCE_BYTES];
        in.get(sender);
        long count = in.getLong();
        if (authenticated()) {
            byte[] seen = new byte[MAC_BYTES];
            byte[] signed = new byte[total - MAC_BYTES];
            in.position(start);
            in.get(signed);
            in.get(seen);
            if (!MessageDigest.isEqual(seen, mac(DOMAIN_MESSAGE, receiver, signed, signed.length))) {
                throw new Wire.MalformedException(total - MAC_BYTES, "its MAC does not verify: forged, corrupted, made"
                        + " with another cluster secret, or meant for another agent than " + receiver);
            }
        }
        return new Opened(message, sender, count);
    }

    // ---------------------------------------------------------------- metadata

    /** {@return the MAC of metadata bytes {@code [0, length)}} */
    byte[] metadataMac(byte[] bytes, int length) {
        return mac(DOMAIN_METADATA, "", bytes, length);
    }

    /** {@return whether {@code mac} is the MAC of metadata bytes {@code [0, length)}}, in constant time */
    boolean metadataMacMatches(byte[] bytes, int length, byte[] mac) {
        return MessageDigest.isEqual(mac, metadataMac(bytes, length));
    }

    private byte[] mac(byte domain, String receiver, byte[] bytes, int length) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(key);
            byte[] to = receiver.getBytes(StandardCharsets.UTF_8);
            mac.update(domain);
            mac.update(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(to.length).array());
            mac.update(to);
            mac.update(bytes, 0, length);
            return mac.doFinal();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HMAC-SHA-256 failed: " + e, e);
        }
    }

    @Override
    public String toString() {
        return authenticated() ? "ClusterAuth[HMAC-SHA-256]" : "ClusterAuth[trusted network]";
    }

    // ---------------------------------------------------------------- replay

    /**
     * What each sender has said so far, to refuse what is said again: per sender name its current run and a window
     * of the counters seen of it (control messages travel on more than one endpoint, so they may arrive out of
     * order, up to {@value #WINDOW} apart), and its earlier runs, whose messages are refused. Not thread-safe: the
     * agent's progress thread owns it.
     */
    static final class Replay {
        static final int WINDOW = 4096;
        private static final int RETIRED_RUNS = 16;
        private final Map<String, Window> senders = new HashMap<>();

        private static final class Window {
            byte[] instance;
            long highest;
            final long[] seen = new long[WINDOW / 64];
            final ArrayDeque<String> retired = new ArrayDeque<>();
        }

        /** {@return null when the message is new, else why it is refused}; a new one is remembered */
        String accept(String sender, byte[] instance, long counter) {
            Window w = senders.get(sender);
            String run = HexFormat.of().formatHex(instance);
            if (w == null) {
                w = new Window();
                senders.put(sender, w);
            } else if (!Arrays.equals(w.instance, instance)) {
                if (w.retired.contains(run)) {
                    return "a message of an earlier run of agent " + sender + " (replayed, or delivered late)";
                }
                w.retired.addLast(HexFormat.of().formatHex(w.instance));
                if (w.retired.size() > RETIRED_RUNS) {
                    w.retired.removeFirst();
                }
                w.instance = null; // the sender restarted: a new window
            }
            if (w.instance == null) {
                w.instance = instance.clone();
                w.highest = counter;
                Arrays.fill(w.seen, 0);
                mark(w, counter);
                return null;
            }
            if (counter > w.highest) {
                long shift = counter - w.highest;
                for (long c = w.highest + 1; c <= counter && c - w.highest <= WINDOW; c++) {
                    clear(w, c);
                }
                if (shift >= WINDOW) {
                    Arrays.fill(w.seen, 0);
                }
                w.highest = counter;
                mark(w, counter);
                return null;
            }
            if (w.highest - counter >= WINDOW) {
                return "message " + Long.toUnsignedString(counter) + " of agent " + sender + " is older than the "
                        + WINDOW + " most recent (replayed)";
            }
            if (isMarked(w, counter)) {
                return "message " + Long.toUnsignedString(counter) + " of agent " + sender + " was received before"
                        + " (replayed)";
            }
            mark(w, counter);
            return null;
        }

        private static void mark(Window w, long c) {
            int bit = (int) Math.floorMod(c, (long) WINDOW);
            w.seen[bit >>> 6] |= 1L << (bit & 63);
        }

        private static void clear(Window w, long c) {
            int bit = (int) Math.floorMod(c, (long) WINDOW);
            w.seen[bit >>> 6] &= ~(1L << (bit & 63));
        }

        private static boolean isMarked(Window w, long c) {
            int bit = (int) Math.floorMod(c, (long) WINDOW);
            return (w.seen[bit >>> 6] & (1L << (bit & 63))) != 0;
        }
    }
}
