/**
 * One worker's transport: {@link dev.kvbm.transport.TransportManager} registers local layouts under
 * {@link dev.kvbm.transport.LayoutHandle}s, publishes them to peers as a {@link dev.kvbm.transport.SerializedLayout}
 * (Dynamo's bincode bytes, byte for byte), imports peers' metadata as untrusted input, and moves blocks between
 * any two layouts it knows.
 *
 * <p>Who copies what (the transfer strategy):
 * <table>
 *   <caption>Transfer strategy by storage kinds</caption>
 *   <tr><th>source → destination</th><th>done by</th></tr>
 *   <tr><td>System/Pinned ↔ System/Pinned, host ↔ Disk</td><td>the system backend's copy executor</td></tr>
 *   <tr><td>Pinned ↔ Device, Device → Device, System ↔ Device</td><td>the CUDA backend's executor</td></tr>
 *   <tr><td>Device ↔ Disk, Disk → Disk</td><td>two hops through a bounce buffer
 *       ({@link dev.kvbm.transport.TransferOptions.Builder#bounceBuffer})</td></tr>
 *   <tr><td>local ↔ another worker's layout</td><td>the agent: READ for a remote source, WRITE for a remote
 *       destination</td></tr>
 * </table>
 * A failed hop fails the whole transfer with its cause; adjacent copies are coalesced; a whole-block copy between
 * two FullyContiguous layouts is one copy per block.
 *
 * <p>Depends on kvbm-api, kvbm-layout and kvbm-bincode; finds backends only through
 * {@link dev.kvbm.api.spi.Backends}.
 */
package dev.kvbm.transport;
