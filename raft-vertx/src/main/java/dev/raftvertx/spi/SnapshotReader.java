package dev.raftvertx.spi;

import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.streams.ReadStream;

/**
 * A committed snapshot's data as a {@link ReadStream}, handed to
 * {@link dev.raftvertx.StateMachine#restore}. It delivers the data in order, in chunks, as
 * demanded (it starts flowing when a handler is set; {@link #pause()}, {@link #resume()} and
 * {@link #fetch(long)} work as usual). It verifies the data against the meta's size and CRC32C as
 * it goes: if they differ, the exception handler receives a {@link CorruptSnapshotException}
 * and the end handler is never called, so a state machine that swaps its state in only at the end
 * keeps its old state.
 *
 * <p><b>Threading:</b> use it on its store's context (the node's), where its handlers are called.
 *
 * <p><b>Lifecycle:</b> the snapshot's file stays open (and is not deleted when a newer snapshot is
 * committed) until the stream ends, fails or is {@link #close() closed}: a consumer that stops
 * early must close it.
 */
public interface SnapshotReader extends ReadStream<Buffer> {

  /** @return the snapshot being read */
  SnapshotMeta meta();

  /**
   * Stops delivering data and releases the file. No handler is called afterwards. Calling it again
   * or after the end does nothing.
   *
   * @return a future completed once the file is released
   */
  Future<Void> close();

  @Override
  SnapshotReader exceptionHandler(Handler<Throwable> handler);

  @Override
  SnapshotReader handler(Handler<Buffer> handler);

  @Override
  SnapshotReader pause();

  @Override
  SnapshotReader resume();

  @Override
  SnapshotReader fetch(long amount);

  @Override
  SnapshotReader endHandler(Handler<Void> endHandler);
}
