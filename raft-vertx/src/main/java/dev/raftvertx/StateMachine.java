package dev.raftvertx;

import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.streams.ReadStream;
import io.vertx.core.streams.WriteStream;

/**
 * The replicated state machine you implement.
 *
 * <p><b>Threading:</b> every method is called on the node's event-loop context, one call at a
 * time, so an implementation needs no synchronization; it must not block and should be fast.
 *
 * <p><b>Determinism:</b> {@link #apply} must be deterministic: every node applies the same
 * commands in the same order and must reach the same state and results. Do not read clocks,
 * random numbers or local files inside it.
 *
 * <p><b>Failures:</b> if {@link #apply} throws, the node halts (it stops applying, voting and
 * serving) rather than diverge from the others; the exception is logged and reported through
 * {@link RaftNode#status()}. Fix the bug and restart the node: it replays its log.
 *
 * <p><b>Snapshots:</b> to let the node compact its log (§7), implement {@link #snapshot} and
 * {@link #restore}. Both stream the state in chunks, so its serialized form is never held in
 * memory as a whole; the defaults refuse, and the node then keeps its whole log.
 */
public interface StateMachine {

  /**
   * Applies a committed command.
   *
   * @param index the command's log index
   * @param command the command, as proposed
   * @return the result handed to the proposer (may be an empty buffer, never null)
   */
  Buffer apply(long index, Buffer command);

  /**
   * Answers a read-only query against the current state. Must not change state.
   *
   * @param query the query, as passed to {@link RaftNode#read} or {@link RaftNode#readLocal}
   * @return the answer
   */
  Buffer query(Buffer query);

  /**
   * Writes a snapshot of the state as of the last command applied: a consistent cut at exactly
   * that index, taken while proposals keep being applied.
   *
   * <p><b>How to cut consistently:</b> the node calls this on its context between two
   * {@link #apply} calls, and resumes applying as soon as this method returns, while the returned
   * future is still pending. So capture the state <em>before returning</em>, in O(1) or nearly:
   * hand the writing an immutable or persistent structure, or freeze the current structure and
   * let later {@link #apply} calls write to a copy-on-write overlay that is folded back once the
   * snapshot is written (the key-value sample does this). Then write from what was captured,
   * never from the live state. {@link #query} may keep reading the live state meanwhile.
   *
   * <p><b>How to write:</b> in chunks (tens of KiB), never the whole state in one buffer. Respect
   * back-pressure: when {@code out.writeQueueFull()}, continue from {@code out.drainHandler};
   * otherwise yield to the event loop between chunks (for example with
   * {@code Context.runOnContext}), so that a large snapshot does not block the node. Complete the
   * returned future once every write has completed; fail it if one failed. Ending the stream is
   * not needed (and does not commit anything): the node makes the snapshot durable after the
   * future succeeds. Any encoding will do, as long as {@link #restore} reads it.
   *
   * <p>The node takes one snapshot at a time: it does not call this again before the returned
   * future has completed.
   *
   * @param out where to write the snapshot's data; used on the node's context
   * @return a future completed once all of the snapshot is written, or failed; by default failed
   *     with an {@link UnsupportedOperationException}: this state machine does not support
   *     snapshots
   */
  default Future<Void> snapshot(WriteStream<Buffer> out) {
    return Future.failedFuture(new UnsupportedOperationException("this state machine does not"
        + " support snapshots: implement StateMachine.snapshot and StateMachine.restore to let"
        + " the node compact its log"));
  }

  /**
   * Replaces the whole state with a snapshot written by {@link #snapshot} (on this node or on
   * another one): at startup, or when the leader sends a snapshot because this node is too far
   * behind.
   *
   * <p><b>Atomically:</b> build the new state aside while the data streams in, and swap it in only
   * when the stream ends (its end handler). If the stream fails (its exception handler receives,
   * for example, a {@link dev.raftvertx.spi.CorruptSnapshotException} when the data does not match
   * its checksum) or the data is malformed, keep the old state and fail the returned future.
   *
   * <p>The node calls this on its context and applies nothing until the returned future
   * completes; afterwards it applies the commands that follow the snapshot. The stream starts
   * flowing once a handler is set; pause it if you need to.
   *
   * @param in the snapshot's data; used on the node's context
   * @return a future completed once the new state is in place, or failed with the old state
   *     kept; by default failed with an {@link UnsupportedOperationException} (this state machine
   *     does not support snapshots) without reading the stream
   */
  default Future<Void> restore(ReadStream<Buffer> in) {
    return Future.failedFuture(new UnsupportedOperationException("this state machine does not"
        + " support snapshots: implement StateMachine.snapshot and StateMachine.restore to let"
        + " the node compact its log"));
  }
}
