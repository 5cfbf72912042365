package dev.raftvertx.spi;

import java.util.Set;

/**
 * Fault injection for a {@link Transport}: the hook used by tests and by an operator's
 * "partition" switch. Every method is thread-safe and takes effect for the next message.
 *
 * <p>The rules apply to the traffic of the transport they are set on:
 * <ul>
 *   <li>partitions and cuts are checked both when this transport sends and when it receives, so
 *       setting them on one side suffices: {@code partition("b")} on node a's transport stops
 *       a&rarr;b and b&rarr;a; {@code partition(ownId)} cuts the node off from everyone;</li>
 *   <li>the drop fraction, the duplicate fraction, the delay and its jitter apply to messages
 *       this transport sends. A jitter lets later messages overtake earlier ones: each message
 *       (and each copy of a duplicated one) is held for its own random time.</li>
 * </ul>
 * A message dropped by a fault is counted like any other lost message; it is never an error.
 */
public interface TransportFaults {

  /**
   * Drops every message to or from each of these nodes until {@link #heal(String...)}.
   *
   * @param nodeIds nodes to cut off (this node's own id cuts it off entirely)
   */
  void partition(String... nodeIds);

  /**
   * Undoes {@link #partition(String...)} for these nodes.
   *
   * @param nodeIds nodes to reconnect
   */
  void heal(String... nodeIds);

  /**
   * Drops messages in one direction only, until {@link #uncut}.
   *
   * @param fromNodeId the sender whose messages are dropped
   * @param toNodeId the receiver they are addressed to
   */
  void cut(String fromNodeId, String toNodeId);

  /**
   * Undoes {@link #cut}.
   *
   * @param fromNodeId the sender
   * @param toNodeId the receiver
   */
  void uncut(String fromNodeId, String toNodeId);

  /**
   * Drops a random fraction of outgoing messages.
   *
   * @param fraction from 0 (none, the default) to 1 (all)
   * @throws IllegalArgumentException if not within [0, 1]
   */
  void dropFraction(double fraction);

  /**
   * Delays every outgoing message.
   *
   * @param millis the delay, 0 (the default) for none
   * @throws IllegalArgumentException if negative
   */
  void delayMillis(long millis);

  /**
   * Sends a random fraction of outgoing messages twice (each copy then goes through the delay
   * and jitter on its own, so the copies may arrive apart and out of order).
   *
   * @param fraction from 0 (none, the default) to 1 (all)
   * @throws IllegalArgumentException if not within [0, 1]
   */
  void duplicateFraction(double fraction);

  /**
   * Adds to the delay of every outgoing message a random time, uniform in [0, maxMillis], drawn
   * for each message: messages then overtake each other, which reorders them.
   *
   * @param maxMillis the largest extra delay, 0 (the default) for none
   * @throws IllegalArgumentException if negative
   */
  void delayJitterMillis(long maxMillis);

  /** Removes every fault: partitions, cuts, drop and duplicate fractions, delay and jitter. */
  void clearFaults();

  /** @return the nodes currently partitioned by {@link #partition(String...)} */
  Set<String> partitionedNodes();
}
