package dev.raftvertx;

import io.vertx.core.buffer.Buffer;

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
}
