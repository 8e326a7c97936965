package dev.kvbm.api;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class StorageKindTest {
    @Test
    void wireOrderIsDynamos() {
        assertThat(StorageKind.SYSTEM.type().wireIndex()).isZero();
        assertThat(StorageKind.PINNED.type().wireIndex()).isEqualTo(1);
        assertThat(StorageKind.device(3).type().wireIndex()).isEqualTo(2);
        assertThat(StorageKind.disk(7).type().wireIndex()).isEqualTo(3);
    }

    @Test
    void valuesAndSpelling() {
        assertThat(StorageKind.device(1)).isEqualTo(StorageKind.device(1)).isNotEqualTo(StorageKind.device(2));
        assertThat(StorageKind.device(1).deviceId()).isEqualTo(1);
        assertThat(StorageKind.disk(-1).toString()).isEqualTo("Disk(18446744073709551615)");
        assertThat(StorageKind.SYSTEM).hasToString("System");
        assertThat(StorageKind.device(0)).hasToString("Device(0)");
        assertThat(StorageKind.SYSTEM.isHostAccessible()).isTrue();
        assertThat(StorageKind.PINNED.isHostAccessible()).isTrue();
        assertThat(StorageKind.device(0).isHostAccessible()).isFalse();
        assertThat(MemType.of(StorageKind.device(0))).isEqualTo(MemType.VRAM);
        assertThat(MemType.of(StorageKind.PINNED)).isEqualTo(MemType.DRAM);
        assertThat(MemType.of(StorageKind.disk(3))).isEqualTo(MemType.FILE);
    }

    @Test
    void rejectsBadIds() {
        assertThatThrownBy(() -> StorageKind.device(-1)).hasMessageContaining("device id -1");
        assertThatThrownBy(() -> new StorageKind(StorageKind.Type.SYSTEM, 5)).hasMessageContaining("carries no id");
        assertThatThrownBy(() -> new StorageKind(StorageKind.Type.DEVICE, 1L << 32)).hasMessageContaining("u32");
        assertThatThrownBy(() -> StorageKind.SYSTEM.fd()).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> StorageKind.disk(3).deviceId()).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void aVendorKindIsAKindOfItsOwnThatTravelsAsItsType() {
        StorageKind shm = StorageKind.vendor("shm", StorageKind.Type.SYSTEM, 0);
        assertThat(shm).isNotEqualTo(StorageKind.SYSTEM).isEqualTo(StorageKind.vendor("shm", StorageKind.Type.SYSTEM, 0))
                .hasToString("shm[System]");
        assertThat(shm.isVendor()).isTrue();
        assertThat(StorageKind.SYSTEM.isVendor()).isFalse();
        assertThat(shm.builtIn()).isEqualTo(StorageKind.SYSTEM);
        assertThat(shm.type().wireIndex()).isZero();
        assertThat(shm.isHostAccessible()).isTrue();
        assertThat(MemType.of(shm)).isEqualTo(MemType.DRAM);
        assertThat(shm.key()).isEqualTo("shm");
        assertThat(StorageKind.device(3).key()).isEqualTo("device");
        StorageKind npu = StorageKind.vendor("npu", StorageKind.Type.DEVICE, 2);
        assertThat(npu.deviceId()).isEqualTo(2);
        assertThat(MemType.of(npu)).isEqualTo(MemType.VRAM);
        assertThat(npu).hasToString("npu[Device(2)]");
    }

    @Test
    void vendorKindNamesAreCheckedAndCannotTakeABuiltInName() {
        for (String bad : new String[] {"", "System", "system", "disk", "9shm", "sh m", "a".repeat(33)}) {
            assertThatThrownBy(() -> StorageKind.vendor(bad, StorageKind.Type.SYSTEM, 0))
                    .isInstanceOf(IllegalArgumentException.class);
        }
        assertThatThrownBy(() -> StorageKind.vendor("shm", StorageKind.Type.SYSTEM, 4))
                .hasMessageContaining("carries no id");
        assertThatThrownBy(() -> StorageKind.vendor("System", StorageKind.Type.SYSTEM, 0))
                .hasMessageContaining("starting with a letter, other than [device, disk, pinned, system]");
    }

    @Test
    void memTypeOrderIsNixls() {
        assertThat(MemType.values()).containsExactly(MemType.DRAM, MemType.VRAM, MemType.BLOCK, MemType.OBJECT,
                MemType.FILE, MemType.UNKNOWN);
    }
}
