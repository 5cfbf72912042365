package dev.raftvertx.impl.transport;

import io.vertx.core.json.JsonObject;
import java.util.concurrent.atomic.LongAdder;

/**
 * Counters of one transport, updated from any thread. Every message handed to
 * {@code send}, and every extra copy made by the duplicate fault ({@link #duplicatedByFaults()}),
 * ends in exactly one of: sent, droppedByFaults, droppedUnavailable, droppedQueueFull,
 * sendFailures.
 */
public final class TransportMetrics {

  final LongAdder sent = new LongAdder();
  final LongAdder received = new LongAdder();
  final LongAdder droppedByFaults = new LongAdder();
  final LongAdder duplicatedByFaults = new LongAdder();
  final LongAdder droppedUnavailable = new LongAdder();
  final LongAdder droppedQueueFull = new LongAdder();
  final LongAdder sendFailures = new LongAdder();
  final LongAdder rejected = new LongAdder();
  final LongAdder rejectedSender = new LongAdder();
  final LongAdder rejectedConnections = new LongAdder();
  final LongAdder peerErrors = new LongAdder();
  private volatile String lastRejection;

  /** @return messages handed to the event bus or written to a peer's socket */
  public long sent() {
    return sent.sum();
  }

  /** @return inbound messages handed to the receiver */
  public long received() {
    return received.sum();
  }

  /** @return messages, outbound or inbound, dropped by a {@link dev.raftvertx.spi.TransportFaults} rule */
  public long droppedByFaults() {
    return droppedByFaults.sum();
  }

  /**
   * @return outbound messages the duplicate fault of {@link dev.raftvertx.spi.TransportFaults}
   *     sent a second time (each extra copy then counts like a message of its own)
   */
  public long duplicatedByFaults() {
    return duplicatedByFaults.sum();
  }

  /**
   * @return messages dropped because there was nowhere to deliver them: transport not started or
   *     closed, peer unknown or not connected, no receiver set
   */
  public long droppedUnavailable() {
    return droppedUnavailable.sum();
  }

  /** @return outbound messages dropped because the peer's write queue was full */
  public long droppedQueueFull() {
    return droppedQueueFull.sum();
  }

  /** @return outbound messages that could not be sent: mis-addressed, not encodable, write failed */
  public long sendFailures() {
    return sendFailures.sum();
  }

  /**
   * @return inbound messages and frames refused: malformed, other cluster or version, wrong
   *     receiver, wrong body type, an address other than the node's own Raft address, a frame of
   *     a bad length or not JSON, and those counted in {@link #rejectedSender()}
   */
  public long rejected() {
    return rejected.sum();
  }

  /**
   * @return inbound messages refused for their sender (also counted in {@link #rejected()}): a
   *     {@code from} that is not a member of the node's configuration, or, over TLS, not the node
   *     the connection's certificate names
   */
  public long rejectedSender() {
    return rejectedSender.sum();
  }

  /**
   * @return connections this node closed or refused: an inbound TLS handshake that failed (no
   *     certificate, or one not signed by the cluster's CA), an inbound frame of a bad length or
   *     not JSON, a certificate that names no valid node id, or a dialled peer whose certificate
   *     names another node
   */
  public long rejectedConnections() {
    return rejectedConnections.sum();
  }

  /** @return error frames a peer's bridge sent back (for example {@code access_denied}) */
  public long peerErrors() {
    return peerErrors.sum();
  }

  /** @return why the last inbound message was refused, or null if none was */
  public String lastRejection() {
    return lastRejection;
  }

  void reject(String reason) {
    rejected.increment();
    lastRejection = reason;
  }

  void rejectSender(String reason) {
    rejectedSender.increment();
    reject(reason);
  }

  /** @return the counters as JSON, for a status page */
  public JsonObject toJson() {
    return new JsonObject()
        .put("sent", sent())
        .put("received", received())
        .put("droppedByFaults", droppedByFaults())
        .put("duplicatedByFaults", duplicatedByFaults())
        .put("droppedUnavailable", droppedUnavailable())
        .put("droppedQueueFull", droppedQueueFull())
        .put("sendFailures", sendFailures())
        .put("rejected", rejected())
        .put("rejectedSender", rejectedSender())
        .put("rejectedConnections", rejectedConnections())
        .put("peerErrors", peerErrors())
        .put("lastRejection", lastRejection);
  }

  @Override
  public String toString() {
    return "TransportMetrics" + toJson().encode();
  }
}
