package dev.raftvertx.impl.transport;

import dev.raftvertx.core.Message;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.internal.net.NetSocketInternal;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.NetSocket;
import io.vertx.ext.bridge.BridgeOptions;
import io.vertx.ext.bridge.PermittedOptions;
import io.vertx.ext.eventbus.bridge.tcp.TcpEventBusBridge;
import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A transport between nodes in different processes or hosts, over the Vert.x TCP event-bus
 * bridge.
 *
 * <p><b>Inbound.</b> The node runs a {@link TcpEventBusBridge} on its own address (its entry in
 * the address map) whose only permitted inbound address is its own Raft address
 * {@code raft.<clusterId>.<nodeId>.rpc}; nothing may be registered for outbound delivery. The
 * node consumes that address on the local event bus and decodes each JSON body with
 * {@link RaftWire}; a body that does not decode is refused and counted.
 *
 * <p><b>Outbound.</b> Vert.x ships no Java client for the bridge, so the transport dials every
 * peer with a {@link NetClient} and writes bridge frames ({@link BridgeFrames}): 4-byte
 * big-endian length, then {@code {"type":"send","address":"raft.<clusterId>.<peer>.rpc",
 * "body":<RaftWire JSON>}}. Each peer has its own reconnect loop (exponential backoff with
 * jitter, capped, short connect timeout). A message to a peer that is not connected, or whose
 * write queue holds more than {@link TcpBridgeOptions#writeQueueMaxBytes()}, is dropped:
 * nothing is buffered while a peer is away.
 *
 * <p>All connection state is confined to the context that called {@link #start()};
 * {@link #send} and {@link #updateAddresses} may be called from any thread.
 */
public final class TcpBridgeTransport extends AbstractTransport {

  /** Longest frame accepted from a peer's bridge (it only ever answers with short errors). */
  private static final int MAX_REPLY_FRAME_BYTES = 64 * 1024;

  /** A parsed {@code host:port}. */
  private record HostPort(String host, int port) {
    @Override
    public String toString() {
      return host.indexOf(':') >= 0 ? "[" + host + "]:" + port : host + ":" + port;
    }
  }

  /** The connection to one peer; confined to the transport's context. */
  private static final class Peer {
    final String id;
    final HostPort address;
    final String rpcAddress;
    NetSocket socket;
    long backoffMillis;
    long reconnectTimer = -1;
    boolean removed;

    Peer(String id, HostPort address, String rpcAddress, long backoffMillis) {
      this.id = id;
      this.address = address;
      this.rpcAddress = rpcAddress;
      this.backoffMillis = backoffMillis;
    }
  }

  private final TcpBridgeOptions options;
  private final RaftWire wire;
  private final String ownRpcAddress;
  private final HostPort listenAddress;
  private volatile Map<String, HostPort> addresses;

  private final Map<String, Peer> peers = new HashMap<>();
  private TcpEventBusBridge bridge;
  private NetClient client;
  private MessageConsumer<Object> consumer;

  /**
   * @param vertx the Vert.x instance
   * @param clusterId the cluster id
   * @param nodeId this node's id
   * @param addresses {@code host:port} of every node, this one included: its own entry is where
   *     its bridge listens ({@code [v6addr]:port} for IPv6)
   * @param options connection settings
   * @throws IllegalArgumentException if an id or address is not valid or this node has no address
   */
  public TcpBridgeTransport(Vertx vertx, String clusterId, String nodeId,
      Map<String, String> addresses, TcpBridgeOptions options) {
    super(vertx, clusterId, nodeId);
    this.options = Objects.requireNonNull(options, "options");
    this.wire = new RaftWire(clusterId, options.maxEntriesBytes());
    this.ownRpcAddress = RaftWire.rpcAddress(clusterId, nodeId);
    Map<String, HostPort> parsed = parseAddresses(addresses);
    this.listenAddress = parsed.get(nodeId);
    if (listenAddress == null) {
      throw new IllegalArgumentException("no address for this node " + nodeId + " in " + addresses);
    }
    this.addresses = parsed;
  }

  /**
   * Replaces the address map (after a membership change). Connections to peers that left or
   * moved are closed; new and moved peers are dialled. May be called from any thread, before or
   * after {@link #start()}.
   *
   * @param newAddresses {@code host:port} of every node; this node's own entry, if present,
   *     must not change (its bridge keeps listening where it started)
   * @throws IllegalArgumentException if an address is not valid or this node's address changed
   */
  public void updateAddresses(Map<String, String> newAddresses) {
    Map<String, HostPort> parsed = parseAddresses(newAddresses);
    HostPort own = parsed.get(nodeId);
    if (own != null && !own.equals(listenAddress)) {
      throw new IllegalArgumentException("this node's address cannot change while it runs: "
          + listenAddress + " -> " + own);
    }
    parsed.put(nodeId, listenAddress);
    addresses = parsed;
    Context ctx = context();
    if (ctx != null) {
      ctx.runOnContext(v -> reconcilePeers());
    }
  }

  /** @return {@code host:port} of every node, this one included */
  public Map<String, String> addresses() {
    Map<String, String> out = new LinkedHashMap<>();
    addresses.forEach((id, hp) -> out.put(id, hp.toString()));
    return out;
  }

  @Override
  protected Future<Void> doStart(Context context) {
    consumer = vertx.eventBus().localConsumer(ownRpcAddress, m -> onInbound(m.body()));
    BridgeOptions bridgeOptions = new BridgeOptions()
        .addInboundPermitted(new PermittedOptions().setAddress(ownRpcAddress));
    NetServerOptions serverOptions = new NetServerOptions().setTcpNoDelay(true);
    bridge = TcpEventBusBridge.create(vertx, bridgeOptions, serverOptions);
    client = vertx.createNetClient(new NetClientOptions()
        .setConnectTimeout(options.connectTimeoutMillis())
        .setTcpNoDelay(true)
        .setTcpKeepAlive(true));
    return consumer.completion()
        .compose(v -> bridge.listen(listenAddress.port(), listenAddress.host()))
        .map(b -> {
          log(Level.INFO, "bridge listening on " + listenAddress);
          reconcilePeers();
          return null;
        });
  }

  @Override
  protected Future<Void> doClose() {
    for (Peer peer : peers.values()) {
      disconnect(peer);
    }
    peers.clear();
    List<Future<?>> closing = new ArrayList<>();
    if (client != null) {
      closing.add(client.close());
    }
    if (bridge != null) {
      closing.add(bridge.close());
    }
    if (consumer != null) {
      closing.add(consumer.unregister());
    }
    return Future.join(closing).mapEmpty();
  }

  // ---------------------------------------------------------------------------------------------
  // Inbound
  // ---------------------------------------------------------------------------------------------

  private void onInbound(Object body) {
    if (!(body instanceof JsonObject json)) {
      reject("bridge body is not a JSON object: "
          + (body == null ? "null" : body.getClass().getSimpleName()));
      return;
    }
    Message message;
    try {
      message = wire.decode(json);
    } catch (WireFormatException e) {
      reject(e.getMessage());
      return;
    }
    deliver(message);
  }

  // ---------------------------------------------------------------------------------------------
  // Outbound
  // ---------------------------------------------------------------------------------------------

  @Override
  protected void transmit(String toNodeId, Message message) {
    if (onContext()) {
      write(toNodeId, message);
    } else {
      context().runOnContext(v -> write(toNodeId, message));
    }
  }

  private void write(String toNodeId, Message message) {
    try {
      Peer peer = peers.get(toNodeId);
      NetSocket socket = peer == null ? null : peer.socket;
      if (socket == null || !isRunning()) {
        metrics.droppedUnavailable.increment();
        return;
      }
      if (socket.writeQueueFull()) {
        metrics.droppedQueueFull.increment();
        return;
      }
      socket.write(BridgeFrames.send(peer.rpcAddress, wire.encode(message)))
          .onFailure(e -> metrics.sendFailures.increment());
      metrics.sent.increment();
    } catch (RuntimeException e) {
      metrics.sendFailures.increment();
      warn("failed to send to " + toNodeId + ": " + e);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Peer connections (all on the context)
  // ---------------------------------------------------------------------------------------------

  /** Brings {@link #peers} in line with {@link #addresses}. */
  private void reconcilePeers() {
    if (!isOpen() || client == null) {
      return;
    }
    Map<String, HostPort> wanted = addresses;
    Iterator<Peer> it = peers.values().iterator();
    while (it.hasNext()) {
      Peer peer = it.next();
      if (!peer.address.equals(wanted.get(peer.id))) {
        disconnect(peer);
        it.remove();
      }
    }
    wanted.forEach((id, address) -> {
      if (!id.equals(nodeId) && !peers.containsKey(id)) {
        Peer peer = new Peer(id, address, RaftWire.rpcAddress(clusterId, id),
            options.initialBackoffMillis());
        peers.put(id, peer);
        connect(peer);
      }
    });
  }

  private void connect(Peer peer) {
    client.connect(peer.address.port(), peer.address.host()).onComplete(ar -> {
      if (peer.removed || !isOpen()) {
        if (ar.succeeded()) {
          forceClose(ar.result());
        }
        return;
      }
      if (ar.failed()) {
        log(Level.DEBUG, "cannot reach " + peer.id + " at " + peer.address + ": "
            + ar.cause().getMessage());
        scheduleReconnect(peer);
        return;
      }
      NetSocket socket = ar.result();
      peer.socket = socket;
      peer.backoffMillis = options.initialBackoffMillis();
      socket.setWriteQueueMaxSize(options.writeQueueMaxBytes());
      socket.handler(BridgeFrames.reader(MAX_REPLY_FRAME_BYTES, frame -> onReply(peer, frame),
          error -> {
            warn("closing the connection to " + peer.id + ": " + error);
            forceClose(socket);
          }));
      socket.exceptionHandler(e -> {
        log(Level.DEBUG, "connection to " + peer.id + " failed: " + e);
        forceClose(socket);
      });
      socket.closeHandler(v -> {
        if (peer.socket == socket) {
          peer.socket = null;
          log(Level.INFO, "lost connection to " + peer.id + " at " + peer.address);
          if (!peer.removed && isOpen()) {
            scheduleReconnect(peer);
          }
        }
      });
      log(Level.INFO, "connected to " + peer.id + " at " + peer.address);
    });
  }

  private void scheduleReconnect(Peer peer) {
    long backoff = peer.backoffMillis;
    long delay = backoff / 2 + ThreadLocalRandom.current().nextLong(backoff / 2 + 1);
    peer.backoffMillis = Math.min(backoff * 2, options.maxBackoffMillis());
    peer.reconnectTimer = vertx.setTimer(Math.max(1, delay), id -> {
      peer.reconnectTimer = -1;
      if (!peer.removed && isOpen()) {
        connect(peer);
      }
    });
  }

  private void disconnect(Peer peer) {
    peer.removed = true;
    if (peer.reconnectTimer >= 0) {
      vertx.cancelTimer(peer.reconnectTimer);
      peer.reconnectTimer = -1;
    }
    if (peer.socket != null) {
      NetSocket socket = peer.socket;
      peer.socket = null;
      forceClose(socket);
    }
  }

  /**
   * Closes a connection now, dropping whatever it still has to write. {@link NetSocket#close()}
   * is graceful in Vert.x 5: it waits until pending writes are flushed, which never happens with a
   * peer that stopped reading, and would hold up {@link #close()} and {@code Vertx.close()}.
   * Closing from Vert.x's own handler context skips that handler's flush-then-close step (as
   * closing the channel itself would not).
   */
  private static void forceClose(NetSocket socket) {
    if (socket instanceof NetSocketInternal internal) {
      internal.channelHandlerContext().close();
    } else {
      socket.close();
    }
  }

  private void onReply(Peer peer, JsonObject frame) {
    if ("err".equals(frame.getValue("type"))) {
      metrics.peerErrors.increment();
      warn("bridge of " + peer.id + " answered an error: " + frame.getValue("message"));
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Addresses
  // ---------------------------------------------------------------------------------------------

  private static Map<String, HostPort> parseAddresses(Map<String, String> addresses) {
    Objects.requireNonNull(addresses, "addresses");
    Map<String, HostPort> parsed = new LinkedHashMap<>();
    addresses.forEach((id, address) -> parsed.put(RaftWire.checkNodeId(id), parse(id, address)));
    return parsed;
  }

  private static HostPort parse(String nodeId, String address) {
    int colon = address == null ? -1 : address.lastIndexOf(':');
    if (colon <= 0 || colon == address.length() - 1) {
      throw new IllegalArgumentException("address of " + nodeId + " is not host:port: " + address);
    }
    String host = address.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    int port;
    try {
      port = Integer.parseInt(address.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("address of " + nodeId + " has no valid port: "
          + address, e);
    }
    if (host.isEmpty() || port < 1 || port > 65535) {
      throw new IllegalArgumentException("address of " + nodeId + " is not host:port: " + address);
    }
    return new HostPort(host, port);
  }
}
