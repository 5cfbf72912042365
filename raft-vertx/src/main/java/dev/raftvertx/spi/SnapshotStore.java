package dev.raftvertx.spi;

import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;

/**
 * The durable snapshots of one Raft node (log compaction, §7): the latest snapshot of its state
 * machine, with the metadata a node needs to resume from it ({@link SnapshotMeta}: last included
 * index and term, configuration, session table, data size and checksum).
 *
 * <p>A node takes a snapshot by {@link #create creating} a writer with a partial meta, letting its
 * state machine write into {@link SnapshotWriter#stream()}, and {@link SnapshotWriter#commit()
 * committing}; only then may it {@link RaftStorage#compact compact} its log up to the snapshot's
 * index. A leader sends its latest snapshot to a follower in chunks ({@link #readChunk}); the
 * follower writes them into a writer created with the leader's meta, which refuses a chunk at the
 * wrong offset so the transfer resumes where the follower's data ends, and which checks size and
 * checksum at commit. A node restores its state machine from {@link #open}.
 *
 * <p><b>Threading:</b> {@link #load()} binds the store to the calling Vert.x context (a new
 * event-loop context if called from outside Vert.x); every returned future completes on it. Other
 * methods may be called from any thread and run on that context, in call order. Writers and
 * readers are used on that context. Nothing blocks the calling thread; data is never held in
 * memory as a whole, so a snapshot may be larger than memory.
 *
 * <p><b>Durability:</b> a snapshot is either committed completely (data, metadata and its
 * directory entry fsynced) or not at all: a crash at any point leaves the previous snapshot the
 * latest and usable. Only the latest snapshot is kept; older ones are deleted after a newer one is
 * durable.
 */
public interface SnapshotStore {

  /**
   * Opens the store. Call once, before anything else. Creates the directory if needed, deletes
   * what interrupted snapshots left (temporary files) and snapshots older than the newest, and
   * reads and checks the newest snapshot's metadata.
   *
   * @return a future completed with the newest snapshot's meta, or null if there is none; failed
   *     with a {@link CorruptSnapshotException} if its metadata is damaged, or a
   *     {@link StorageException} on an I/O error
   */
  Future<SnapshotMeta> load();

  /**
   * @return a future completed with the latest committed snapshot's meta, or null if there is
   *     none
   */
  Future<SnapshotMeta> latest();

  /**
   * Starts a snapshot. Called on the store's context, the returned future is already complete, so
   * that a node can take the consistent cut at once, between two applied entries: create the
   * writer with the meta of the applied index and hand its {@link SnapshotWriter#stream()} to
   * {@link dev.raftvertx.StateMachine#snapshot} in the same event-loop turn. The temporary file is
   * opened in the background and writes wait for it; if it cannot be created, the writes and the
   * commit fail.
   *
   * @param meta a partial meta ({@link SnapshotMeta#of}) for a snapshot of the local state
   *     machine, or the sender's complete meta for a received snapshot
   * @return a future completed with the writer, or failed with a {@link StorageException} if the
   *     latest snapshot's index is already at or above {@code meta.index()}
   */
  Future<SnapshotWriter> create(SnapshotMeta meta);

  /**
   * Reads part of the latest snapshot's data, for sending it in chunks.
   *
   * @param meta the snapshot being sent: must still be the latest
   * @param offset where to start, between 0 and {@code meta.size()}
   * @param length the most bytes wanted, at least 1
   * @return a future completed with the bytes (fewer than {@code length} only at the end of the
   *     data, none at its end), or failed with a {@link StorageException} if {@code meta} is no
   *     longer the latest snapshot (a newer one replaced it: restart the transfer from
   *     {@link #latest()}), or with an {@link IllegalArgumentException} for a bad range
   */
  Future<Buffer> readChunk(SnapshotMeta meta, long offset, int length);

  /**
   * Opens the latest snapshot's data for restoring a state machine.
   *
   * @param meta the snapshot to read: must be the latest
   * @return a future completed with a reader that verifies the data as it streams, or failed with
   *     a {@link StorageException} if {@code meta} is not the latest snapshot
   */
  Future<SnapshotReader> open(SnapshotMeta meta);

  /**
   * Closes the store: aborts writers not committed (deleting their temporary files), closes
   * readers and files. Calls after this fail. Calling it again returns the same future.
   *
   * @return a future completed once everything is closed
   */
  Future<Void> close();
}
