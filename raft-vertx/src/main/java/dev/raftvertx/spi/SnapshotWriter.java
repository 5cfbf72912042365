package dev.raftvertx.spi;

import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.streams.WriteStream;

/**
 * A snapshot being written: by the local state machine ({@link #stream()}, handed to
 * {@link dev.raftvertx.StateMachine#snapshot}), or by a follower receiving a leader's snapshot in
 * chunks ({@link #write(long, Buffer)}). The data goes to a temporary file that no reader sees;
 * {@link #commit()} makes the snapshot durable and the store's latest, {@link #abort()} discards
 * it. A writer left neither committed nor aborted (a crash) leaves the previous snapshot in place;
 * its temporary file is deleted when the store is next loaded.
 *
 * <p><b>Threading:</b> use a writer on its store's context (the node's); its futures complete
 * there. Methods called from another thread are carried out on that context, so {@link #offset()}
 * and {@link WriteStream#writeQueueFull()} then reflect only the writes already carried out.
 *
 * <p><b>Failures:</b> a write that fails (an I/O error, a full disk) fails the writer: every later
 * write and the commit fail, and the temporary file is deleted by {@link #abort()} (or at the next
 * load). A chunk refused for its offset or its size does not fail the writer.
 */
public interface SnapshotWriter {

  /** @return the meta the writer was created with (partial for a local snapshot) */
  SnapshotMeta meta();

  /** @return how many bytes of data have been accepted so far: where the next write goes */
  long offset();

  /**
   * The writer as a {@link WriteStream} that appends at {@link #offset()}, with back-pressure:
   * {@link WriteStream#writeQueueFull()} is true while more than the write queue's maximum
   * (1 MiB by default, {@link WriteStream#setWriteQueueMaxSize} in bytes) is being written, and
   * the drain handler is called once half of it is written. {@link WriteStream#end()} only
   * completes once every write has completed; it does not commit. Always the same stream.
   *
   * @return the stream
   */
  WriteStream<Buffer> stream();

  /**
   * Writes a received chunk. The chunk must start at {@link #offset()}: any other offset is
   * refused with a {@link SnapshotOffsetException} naming the offset expected, so that the sender
   * can resume from there after a lost chunk. If the meta's size is known, a chunk that would run
   * past it is refused with an {@link IllegalArgumentException}. Refused chunks leave the writer
   * usable.
   *
   * @param offset where the chunk starts in the data
   * @param chunk the bytes; not modified afterwards
   * @return a future completed once the chunk is written (not durable), or failed as above or
   *     with a {@link StorageException} if the writer failed
   */
  Future<Void> write(long offset, Buffer chunk);

  /**
   * Makes the snapshot durable and the store's latest: waits for every write, checks the data
   * against the meta if its size was known (a mismatch fails with a
   * {@link CorruptSnapshotException}), appends the metadata (CRC-protected), fsyncs the file,
   * renames it into place atomically and fsyncs the directory. Only then are older snapshots
   * deleted (an older one still being read is deleted once its readers are done).
   *
   * <p>A snapshot whose index is not above the latest snapshot's (one committed meanwhile) is
   * refused with a {@link StorageException}. On any failure the temporary file is deleted and the
   * previous snapshot stays the latest.
   *
   * @return a future completed with the committed meta (size and checksum filled in) once it is
   *     durable and in place
   */
  Future<SnapshotMeta> commit();

  /**
   * Discards the snapshot: closes and deletes the temporary file. Does nothing more after the
   * first call; refused with an {@link IllegalStateException} once {@link #commit()} was called.
   *
   * @return a future completed once the temporary file is deleted
   */
  Future<Void> abort();
}
