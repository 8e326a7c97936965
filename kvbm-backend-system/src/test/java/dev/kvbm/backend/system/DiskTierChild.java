package dev.kvbm.backend.system;

import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.FileStorage;
import dev.kvbm.api.spi.Storage;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A separate JVM for {@link DiskTierFileSystemTest}, started on the class path:
 * <ul>
 *   <li>{@code hold DIR}: allocates three 8 MiB disk storages in DIR, writes them, prints
 *       {@code READY <fd> <fd> <fd>} and waits to be killed;</li>
 *   <li>{@code twice DIR}: allocates two storages in DIR, round-trips bytes through each, prints
 *       {@code DIRECT <true|false> <true|false>} and exits (the warning, if any, goes to stderr).</li>
 * </ul>
 */
public final class DiskTierChild {
    private DiskTierChild() {
    }

    public static void main(String[] args) throws Exception {
        DiskStorageProvider provider = new DiskStorageProvider(Path.of(args[1]));
        List<Storage> held = new ArrayList<>();
        try (Arena arena = Arena.ofShared()) {
            MemorySegment data = arena.allocate(8 << 20, 4096).fill((byte) 0x3C);
            if (args[0].equals("hold")) {
                StringBuilder line = new StringBuilder("READY");
                for (int i = 0; i < 3; i++) {
                    Storage s = provider.allocate(StorageKind.disk(0), 8 << 20);
                    ((FileStorage) s).write(0, data);
                    held.add(s);
                    line.append(' ').append(s.kind().fd());
                }
                System.out.println(line);
                System.out.flush();
                Thread.sleep(Long.MAX_VALUE);
            } else {
                StringBuilder line = new StringBuilder("DIRECT");
                for (int i = 0; i < 2; i++) {
                    try (Storage s = provider.allocate(StorageKind.disk(0), 1 << 20)) {
                        FileStorage file = (FileStorage) s;
                        file.write(100, data.asSlice(0, 5000));
                        MemorySegment back = arena.allocate(5000);
                        file.read(100, back);
                        if (back.mismatch(data.asSlice(0, 5000)) != -1) {
                            throw new AssertionError("round trip through " + file + " changed bytes");
                        }
                        line.append(' ').append(file.directIo());
                    }
                }
                System.out.println(line);
            }
        }
    }
}
