package dev.kvbm.transport;

/** Run by {@link NativeAccessTest} in a JVM started without native access: builds a worker and prints the error. */
public final class NativeAccessProgram {

    private NativeAccessProgram() {
    }

    public static void main(String[] args) {
        try (TransportManager manager = TransportManager.builder().workerId(1).build()) {
            System.out.println("RESULT built " + manager);
        } catch (IllegalStateException e) {
            System.out.println("RESULT refused: " + e.getMessage());
        }
    }
}
