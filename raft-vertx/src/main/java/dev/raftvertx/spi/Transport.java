package dev.raftvertx.spi;

import dev.raftvertx.core.Message;
import io.vertx.core.Future;
import io.vertx.core.Handler;

/**
 * Carries Raft RPCs ({@link Message}) between the nodes of one cluster.
 *
 * <p>A transport is <b>unreliable by contract</b>: Raft retries every RPC, so a message may be
 * lost, duplicated or reordered, and a lost message is never an error. A transport never queues
 * without bound to hide a slow or absent peer; it drops instead.
 *
 * <p><b>Threading contract</b> (modelled on MicroRaft's {@code Transport}):
 * <ul>
 *   <li>{@link #send} may be called from any thread, must not block and must not throw: a message
 *       that cannot be sent (peer unknown or down, queue full, transport not started or closed,
 *       message not encodable) is dropped and counted.</li>
 *   <li>The handler given to {@link #receiver} is called on the Vert.x context that called
 *       {@link #start()} (the node's verticle context, which should be an event-loop context), one
 *       message at a time; Vert.x may run it on a duplicate of that context, which runs on the
 *       same thread. If {@code start()} is called from a non-Vert.x thread, a new event-loop
 *       context is used. The handler must not block; an exception it throws is logged and the
 *       message counts as delivered.</li>
 *   <li>{@link #start()} and {@link #close()} return futures and never block. A transport is
 *       started at most once; after {@code close()} it cannot be started again.</li>
 * </ul>
 */
public interface Transport {

  /**
   * Sends a message, fire-and-forget. Never blocks, never throws.
   *
   * @param toNodeId the receiver; must equal {@code message.to()}, otherwise the message is
   *     dropped (and counted)
   * @param message the RPC to send
   */
  void send(String toNodeId, Message message);

  /**
   * Sets the handler of inbound messages, replacing any previous one. Set it before
   * {@link #start()}: messages that arrive while no handler is set are dropped.
   *
   * @param handler called on the node's context with each message addressed to this node
   */
  void receiver(Handler<Message> handler);

  /**
   * Starts receiving (and, for a network transport, listening and connecting to peers).
   *
   * @return completes once inbound messages can be received; fails if the transport could not
   *     start (for example its port is taken) or was already started or closed
   */
  Future<Void> start();

  /**
   * Stops receiving and releases every resource (consumers, sockets, servers, timers).
   * Idempotent: later calls return the same future.
   *
   * @return completes once everything is released
   */
  Future<Void> close();
}
