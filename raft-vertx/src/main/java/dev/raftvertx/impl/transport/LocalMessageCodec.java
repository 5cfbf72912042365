package dev.raftvertx.impl.transport;

import dev.raftvertx.core.Message;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.MessageCodec;
import java.util.Collections;
import java.util.Set;
import java.util.WeakHashMap;

/**
 * Event-bus codec that hands a {@link Message} record to a consumer in the same Vert.x instance
 * as is: records are immutable, so no copy is needed.
 *
 * <p>The codec is local-only: senders must use {@code DeliveryOptions.setLocalOnly(true)}. Raft
 * messages cross a process boundary only as {@link RaftWire} JSON (see
 * {@link TcpBridgeTransport}), so the wire methods refuse to run.
 */
public final class LocalMessageCodec implements MessageCodec<Message, Message> {

  /** The codec's name, to pass to {@code DeliveryOptions.setCodecName}. */
  public static final String NAME = "raft-vertx.message.local";

  private static final LocalMessageCodec INSTANCE = new LocalMessageCodec();
  private static final Set<Vertx> REGISTERED = Collections.newSetFromMap(new WeakHashMap<>());

  private LocalMessageCodec() {
  }

  /**
   * Registers the codec on this Vert.x instance's event bus unless it already is. Vert.x refuses
   * a second registration of a name, so every user of the codec goes through here.
   *
   * @param vertx the Vert.x instance
   */
  public static void ensureRegistered(Vertx vertx) {
    synchronized (REGISTERED) {
      if (REGISTERED.contains(vertx)) {
        return;
      }
      try {
        vertx.eventBus().registerCodec(INSTANCE);
      } catch (IllegalStateException alreadyRegistered) {
        // Registered under this name outside this guard, e.g. by a copy of this class loaded by
        // another class loader; a codec of that name that passes records through is present.
      }
      REGISTERED.add(vertx);
    }
  }

  @Override
  public void encodeToWire(Buffer buffer, Message message) {
    throw new UnsupportedOperationException(NAME + " is local-only; send with setLocalOnly(true)");
  }

  @Override
  public Message decodeFromWire(int pos, Buffer buffer) {
    throw new UnsupportedOperationException(NAME + " is local-only; send with setLocalOnly(true)");
  }

  @Override
  public Message transform(Message message) {
    return message;
  }

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public byte systemCodecID() {
    return -1;
  }
}
