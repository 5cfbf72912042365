package dev.raftvertx.impl.transport;

import dev.raftvertx.core.Message;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.MessageConsumer;

/**
 * A transport between nodes that share one Vert.x instance, over its local event bus.
 *
 * <p>Each node consumes {@code raft.<clusterId>.<nodeId>.rpc} ({@link RaftWire#rpcAddress}).
 * Messages travel as the immutable records themselves, through the {@link LocalMessageCodec},
 * with no JSON and no copy; sends are fire-and-forget ({@code send}, never request/reply), and a
 * message to a node with no consumer is silently lost, as on a network.
 *
 * <p>Threading and fault injection: see {@link dev.raftvertx.spi.Transport} and
 * {@link dev.raftvertx.spi.TransportFaults}.
 */
public final class EventBusTransport extends AbstractTransport {

  private final DeliveryOptions deliveryOptions =
      new DeliveryOptions().setCodecName(LocalMessageCodec.NAME).setLocalOnly(true);
  private MessageConsumer<Object> consumer;

  /**
   * @param vertx the Vert.x instance all nodes of the cluster share
   * @param clusterId the cluster id
   * @param nodeId this node's id
   * @throws IllegalArgumentException if an id is not valid ({@link RaftWire#checkClusterId},
   *     {@link RaftWire#checkNodeId})
   */
  public EventBusTransport(Vertx vertx, String clusterId, String nodeId) {
    super(vertx, clusterId, nodeId);
  }

  @Override
  protected Future<Void> doStart(Context context) {
    LocalMessageCodec.ensureRegistered(vertx);
    consumer = vertx.eventBus().localConsumer(RaftWire.rpcAddress(clusterId, nodeId),
        m -> onMessage(m.body()));
    return consumer.completion();
  }

  private void onMessage(Object body) {
    if (body instanceof Message message) {
      deliver(message);
    } else {
      reject("unexpected event-bus body "
          + (body == null ? "null" : body.getClass().getName()));
    }
  }

  @Override
  protected void transmit(String toNodeId, Message message) {
    vertx.eventBus().send(RaftWire.rpcAddress(clusterId, toNodeId), message, deliveryOptions);
    metrics.sent.increment();
  }

  @Override
  protected Future<Void> doClose() {
    return consumer == null ? Future.succeededFuture() : consumer.unregister();
  }
}
