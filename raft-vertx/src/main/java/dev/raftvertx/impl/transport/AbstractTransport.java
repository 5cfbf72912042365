package dev.raftvertx.impl.transport;

import dev.raftvertx.core.Message;
import dev.raftvertx.spi.Transport;
import dev.raftvertx.spi.TransportFaults;
import io.vertx.core.Closeable;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.internal.ContextInternal;
import java.lang.System.Logger.Level;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Predicate;

/**
 * What both built-in transports share: the life cycle, the {@link Transport} threading contract,
 * the {@link TransportFaults} rules and the {@link TransportMetrics}. A subclass supplies
 * {@link #doStart}, {@link #doClose} and {@link #transmit}, and hands inbound messages to
 * {@link #deliver}.
 *
 * <p><b>Sender check.</b> The node tells the transport which senders it accepts
 * ({@link #allowSenders}); {@link #deliver} refuses a message from anyone else and counts it in
 * {@link TransportMetrics#rejectedSender()}.
 */
public abstract class AbstractTransport implements Transport, TransportFaults {

  /** Most messages held back by the delay fault at once; more are dropped. */
  static final int MAX_DELAYED = 10_000;

  private static final long WARN_INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(1);

  private enum State { NEW, STARTING, STARTED, CLOSED }

  /** The Vert.x instance. */
  protected final Vertx vertx;
  /** The cluster this node belongs to. */
  protected final String clusterId;
  /** This node's id. */
  protected final String nodeId;
  /** The counters. */
  protected final TransportMetrics metrics = new TransportMetrics();

  private final System.Logger log;
  private final FaultRules faults = new FaultRules();
  private final AtomicInteger delayed = new AtomicInteger();
  private final AtomicLong lastWarn = new AtomicLong(System.nanoTime() - WARN_INTERVAL_NANOS);
  private final Closeable closeHook = completion -> close().onComplete(completion);
  private volatile State state = State.NEW;
  private volatile Handler<Message> receiver;
  private volatile Predicate<String> allowedSenders;
  private volatile Context context;
  private Future<Void> started;
  private Future<Void> closed;

  /**
   * @param vertx the Vert.x instance
   * @param clusterId the cluster id ({@link RaftWire#checkClusterId})
   * @param nodeId this node's id ({@link RaftWire#checkNodeId})
   */
  protected AbstractTransport(Vertx vertx, String clusterId, String nodeId) {
    this.vertx = Objects.requireNonNull(vertx, "vertx");
    this.clusterId = RaftWire.checkClusterId(clusterId);
    this.nodeId = RaftWire.checkNodeId(nodeId);
    this.log = System.getLogger(getClass().getName());
  }

  /** @return this node's id */
  public final String nodeId() {
    return nodeId;
  }

  /** @return the cluster id */
  public final String clusterId() {
    return clusterId;
  }

  /** @return this transport's counters */
  public final TransportMetrics metrics() {
    return metrics;
  }

  @Override
  public final void receiver(Handler<Message> handler) {
    this.receiver = handler;
  }

  /**
   * Sets which senders are accepted: {@link #deliver} asks the predicate about each inbound
   * message's {@code from}, on {@link #context()}, and refuses the message if it answers false.
   * A Raft node accepts the members of its current configuration and, while it has none (a
   * joining node), the peers of its options. Until this is called every sender is accepted.
   *
   * @param allowed tells whether a node id may send to this node; null accepts every sender
   */
  public final void allowSenders(Predicate<String> allowed) {
    this.allowedSenders = allowed;
  }

  @Override
  public final synchronized Future<Void> start() {
    if (state != State.NEW) {
      return Future.failedFuture(new IllegalStateException(
          "transport of " + nodeId + " already " + state.name().toLowerCase()));
    }
    state = State.STARTING;
    ContextInternal ctx = ((ContextInternal) vertx.getOrCreateContext()).unwrap();
    context = ctx;
    // Undeploying the node's verticle, or closing Vert.x, closes the transport too.
    ctx.addCloseHook(closeHook);
    Promise<Void> promise = Promise.promise();
    ctx.runOnContext(v -> {
      Future<Void> f;
      try {
        f = doStart(ctx);
      } catch (RuntimeException e) {
        f = Future.failedFuture(e);
      }
      f.onComplete(ar -> {
        if (ar.succeeded()) {
          synchronized (this) {
            if (state == State.STARTING) {
              state = State.STARTED;
            }
          }
          promise.complete();
          return;
        }
        // A failed start releases what it took; a close() already under way does it instead.
        Future<Void> cleanup = Future.succeededFuture();
        synchronized (this) {
          state = State.CLOSED;
          if (closed == null) {
            closed = closeOnContext(ctx);
            cleanup = closed;
          }
        }
        cleanup.onComplete(x -> promise.fail(ar.cause()));
      });
    });
    started = promise.future();
    return started;
  }

  @Override
  public final synchronized Future<Void> close() {
    if (closed != null) {
      return closed;
    }
    State previous = state;
    state = State.CLOSED;
    if (previous == State.NEW) {
      closed = Future.succeededFuture();
    } else {
      Context ctx = context;
      closed = started.transform(ar -> closeOnContext(ctx));
    }
    return closed;
  }

  private Future<Void> closeOnContext(Context ctx) {
    ((ContextInternal) ctx).removeCloseHook(closeHook);
    Promise<Void> promise = Promise.promise();
    ctx.runOnContext(v -> {
      Future<Void> f;
      try {
        f = doClose();
      } catch (RuntimeException e) {
        f = Future.failedFuture(e);
      }
      f.onComplete(promise);
    });
    return promise.future();
  }

  @Override
  public final void send(String toNodeId, Message message) {
    try {
      if (message == null || toNodeId == null || !toNodeId.equals(message.to())
          || !nodeId.equals(message.from())) {
        metrics.sendFailures.increment();
        warn("dropped a mis-addressed message to " + toNodeId + ": " + message);
        return;
      }
      if (state != State.STARTED) {
        metrics.droppedUnavailable.increment();
        return;
      }
      if (faults.blocks(nodeId, toNodeId) || faults.dropsAtRandom()) {
        metrics.droppedByFaults.increment();
        return;
      }
      if (faults.duplicatesAtRandom()) {
        metrics.duplicatedByFaults.increment();
        transmitAfterDelay(toNodeId, message);
      }
      transmitAfterDelay(toNodeId, message);
    } catch (RuntimeException e) {
      metrics.sendFailures.increment();
      warn("failed to send to " + toNodeId + ": " + e);
    }
  }

  /** Transmits now, or after the delay fault's time for this message (one copy of it). */
  private void transmitAfterDelay(String toNodeId, Message message) {
    long delay = faults.delayMillis();
    if (delay == 0) {
      transmit(toNodeId, message);
    } else if (delayed.incrementAndGet() > MAX_DELAYED) {
      delayed.decrementAndGet();
      metrics.droppedByFaults.increment();
    } else {
      vertx.setTimer(delay, id -> {
        delayed.decrementAndGet();
        transmitSafely(toNodeId, message);
      });
    }
  }

  private void transmitSafely(String toNodeId, Message message) {
    try {
      if (state != State.STARTED) {
        metrics.droppedUnavailable.increment();
        return;
      }
      transmit(toNodeId, message);
    } catch (RuntimeException e) {
      metrics.sendFailures.increment();
      warn("failed to send to " + toNodeId + ": " + e);
    }
  }

  /**
   * Starts the transport; runs on {@link #context()}.
   *
   * @param context the node's context, on which inbound messages must be delivered
   * @return completes when inbound messages can be received
   */
  protected abstract Future<Void> doStart(Context context);

  /**
   * Releases every resource; runs on {@link #context()} once {@link #doStart} has completed,
   * whether it succeeded or not, so it must cope with a partial start.
   *
   * @return completes when everything is released
   */
  protected abstract Future<Void> doClose();

  /**
   * Sends a message that passed the fault rules. Called on any thread, must not block; it may
   * throw, which counts as a send failure.
   *
   * @param toNodeId the receiver
   * @param message the message
   */
  protected abstract void transmit(String toNodeId, Message message);

  /**
   * Hands an inbound message to the receiver after checking its addressee, its sender
   * ({@link #allowSenders}) and the fault rules. Called on {@link #context()}.
   *
   * @param message the decoded message
   * @return false if the message was refused (and counted), true otherwise, even if it was then
   *     dropped by a fault rule or for want of a receiver
   */
  protected final boolean deliver(Message message) {
    if (!nodeId.equals(message.to())) {
      reject("message for node '" + message.to() + "' arrived at node '" + nodeId + "'");
      return false;
    }
    Predicate<String> allowed = allowedSenders;
    boolean accepted;
    try {
      accepted = allowed == null || allowed.test(message.from());
    } catch (RuntimeException e) {
      accepted = false;
    }
    if (!accepted) {
      rejectSender("message from '" + message.from() + "', not a member of the configuration");
      return false;
    }
    if (faults.blocks(message.from(), nodeId)) {
      metrics.droppedByFaults.increment();
      return true;
    }
    Handler<Message> handler = receiver;
    if (state != State.STARTED || handler == null) {
      metrics.droppedUnavailable.increment();
      return true;
    }
    metrics.received.increment();
    try {
      handler.handle(message);
    } catch (RuntimeException e) {
      log.log(Level.WARNING, "receiver of " + nodeId + " failed on " + message, e);
    }
    return true;
  }

  /**
   * Refuses an inbound message: counts it and logs the reason (at most once a second).
   *
   * @param reason why
   */
  protected final void reject(String reason) {
    metrics.reject(reason);
    warn("refused an inbound message: " + reason);
  }

  /**
   * Refuses an inbound message for its sender: counts it in {@link TransportMetrics#rejected()}
   * and {@link TransportMetrics#rejectedSender()} and logs the reason (at most once a second).
   *
   * @param reason why
   */
  protected final void rejectSender(String reason) {
    metrics.rejectSender(reason);
    warn("refused an inbound message: " + reason);
  }

  /**
   * Counts a connection closed or refused in {@link TransportMetrics#rejectedConnections()} and
   * logs the reason (at most once a second).
   *
   * @param reason why
   */
  protected final void rejectConnection(String reason) {
    metrics.rejectedConnections.increment();
    warn("closed a connection: " + reason);
  }

  /**
   * Logs a warning unless one was logged less than a second ago; the counters keep the rest.
   *
   * @param text the warning
   */
  protected final void warn(String text) {
    long now = System.nanoTime();
    long last = lastWarn.get();
    if (now - last >= WARN_INTERVAL_NANOS && lastWarn.compareAndSet(last, now)) {
      log.log(Level.WARNING, "[" + clusterId + "/" + nodeId + "] " + text);
    }
  }

  /**
   * Logs at a level, unconditionally.
   *
   * @param level the level
   * @param text the message
   */
  protected final void log(Level level, String text) {
    if (log.isLoggable(level)) {
      log.log(level, "[" + clusterId + "/" + nodeId + "] " + text);
    }
  }

  /** @return the context given to {@link #doStart}, or null before {@link #start()} */
  protected final Context context() {
    return context;
  }

  /**
   * @return true if the calling code runs on {@link #context()} or on a duplicate of it (Vert.x
   *     delivers event-bus messages on duplicates, which run on the same thread)
   */
  protected final boolean onContext() {
    Context current = Vertx.currentContext();
    return current != null && context != null
        && ((ContextInternal) current).unwrap() == context;
  }

  /** @return true once started and until closed */
  protected final boolean isRunning() {
    return state == State.STARTED;
  }

  /** @return true from {@link #start()} until {@link #close()} */
  protected final boolean isOpen() {
    State s = state;
    return s == State.STARTING || s == State.STARTED;
  }

  @Override
  public final void partition(String... nodeIds) {
    faults.partition(nodeIds);
  }

  @Override
  public final void heal(String... nodeIds) {
    faults.heal(nodeIds);
  }

  @Override
  public final void cut(String fromNodeId, String toNodeId) {
    faults.cut(fromNodeId, toNodeId);
  }

  @Override
  public final void uncut(String fromNodeId, String toNodeId) {
    faults.uncut(fromNodeId, toNodeId);
  }

  @Override
  public final void dropFraction(double fraction) {
    faults.dropFraction(fraction);
  }

  @Override
  public final void delayMillis(long millis) {
    faults.delayMillis(millis);
  }

  @Override
  public final void duplicateFraction(double fraction) {
    faults.duplicateFraction(fraction);
  }

  @Override
  public final void delayJitterMillis(long maxMillis) {
    faults.delayJitterMillis(maxMillis);
  }

  @Override
  public final void clearFaults() {
    faults.clearFaults();
  }

  @Override
  public final Set<String> partitionedNodes() {
    return faults.partitionedNodes();
  }
}
