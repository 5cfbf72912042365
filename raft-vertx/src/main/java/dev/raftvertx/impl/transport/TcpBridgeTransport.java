package dev.raftvertx.impl.transport;

import dev.raftvertx.TlsOptions;
import dev.raftvertx.core.Message;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.ClientAuth;
import io.vertx.core.internal.net.NetSocketInternal;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.NetSocket;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.core.net.PemTrustOptions;
import java.lang.System.Logger.Level;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import javax.naming.NamingEnumeration;
import javax.naming.NamingException;
import javax.naming.directory.Attribute;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.security.auth.x500.X500Principal;

/**
 * A transport between nodes in different processes or hosts, speaking the frame format of the
 * Vert.x TCP event-bus bridge ({@link BridgeFrames}).
 *
 * <p><b>Inbound.</b> The node serves the bridge's frame format from its own {@link NetServer} on
 * its own address (its entry in the address map), rather than running the stock
 * {@code TcpEventBusBridge}: that one's frame parser (Vert.x 5.0.8) buffers however many bytes a
 * length prefix announces and does not handle a negative one, and it cannot tell which
 * connection, hence which authenticated node, a message came in on. Here each connection reads
 * frames with {@link BridgeFrames#reader}, bounded by {@link TcpBridgeOptions#maxFrameBytes()}: a
 * length prefix below 2 or above the bound, or a frame that is not a JSON object, is answered with
 * an error frame, counted, and closes that connection only. Like a bridge whose only permitted
 * inbound address is the node's own Raft address {@code raft.<clusterId>.<nodeId>.rpc}, it takes
 * only {@code send} frames to that address (answering others {@code access_denied}, as the bridge
 * does, and a {@code ping} with a {@code pong}) and decodes their bodies with {@link RaftWire};
 * a body that does not decode is refused with an error frame and counted. Nothing is put on the
 * event bus.
 *
 * <p><b>TLS.</b> With {@link TcpBridgeOptions#tls()} both sides use TLS with the node's PEM
 * certificate and key and trust only the cluster's CA; the server requires a client certificate.
 * A node's identity is its certificate's subject CN ({@link TlsOptions}): an inbound message whose
 * {@code from} is not the node its connection authenticated as is refused and counted
 * ({@link TransportMetrics#rejectedSender()}), and a dialled peer whose certificate names another
 * node is disconnected. Each authenticated node keeps at most one inbound connection: a new one
 * replaces the old. Without TLS a warning is logged for a listening or peer address that is not a
 * loopback address.
 *
 * <p><b>Senders.</b> Whatever the mode, {@link #allowSenders} decides which node ids may send.
 *
 * <p><b>Outbound.</b> Vert.x ships no Java client for the bridge, so the transport dials every
 * peer with a {@link NetClient} and writes bridge frames ({@link BridgeFrames}): 4-byte
 * big-endian length, then {@code {"type":"send","address":"raft.<clusterId>.<peer>.rpc",
 * "body":<RaftWire JSON>}}, except AppendEntries and its responses, nearly all of the traffic,
 * whose frames hold the message in {@link RaftWire#encodeBinary binary form} instead (no JSON, no
 * base64; the first byte tells the forms apart). Each peer has its own reconnect loop (exponential backoff with
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

  /** How long a connection closed for a bad frame may take to flush its error frame. */
  private static final long ERROR_FLUSH_MILLIS = 1000;

  /** Frame types of the bridge protocol; others are answered {@code unknown_type}. */
  private static final Set<String> FRAME_TYPES = Set.of("send", "publish", "register",
      "unregister");

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
  /** Open inbound connections. */
  private final Set<NetSocket> inbound = new HashSet<>();
  /** Over TLS: the inbound connection of each authenticated node. */
  private final Map<String, NetSocket> inboundByNode = new HashMap<>();
  private NetServer server;
  private NetClient client;

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

  /** @return true if connections use TLS */
  public boolean isTls() {
    return options.tls() != null;
  }

  @Override
  protected Future<Void> doStart(Context context) {
    NetServerOptions serverOptions = new NetServerOptions().setTcpNoDelay(true);
    NetClientOptions clientOptions = new NetClientOptions()
        .setConnectTimeout(options.connectTimeoutMillis())
        .setTcpNoDelay(true)
        .setTcpKeepAlive(true);
    TlsOptions tls = options.tls();
    if (tls != null) {
      PemKeyCertOptions keyCert = keyCertOptions(tls);
      PemTrustOptions trust = trustOptions(tls);
      serverOptions.setSsl(true).setKeyCertOptions(keyCert).setTrustOptions(trust)
          .setClientAuth(ClientAuth.REQUIRED);
      // Peers are identified by the node id in their certificate, not by host name (checked in
      // connect()), so that a node keeps its certificate when its address changes.
      clientOptions.setSsl(true).setKeyCertOptions(keyCert).setTrustOptions(trust)
          .setHostnameVerificationAlgorithm("");
    } else if (!isLoopback(listenAddress.host())) {
      log(Level.WARNING, "listening in plain TCP on " + listenAddress + ", not a loopback"
          + " address: node-to-node traffic is neither encrypted nor authenticated; configure"
          + " TLS (RaftOptions.setTls, the sample app's --tls-cert, --tls-key and --tls-ca)");
    }
    server = vertx.createNetServer(serverOptions)
        .connectHandler(this::onConnection)
        .exceptionHandler(this::onConnectionFailure);
    client = vertx.createNetClient(clientOptions);
    return server.listen(listenAddress.port(), listenAddress.host())
        .map(s -> {
          log(Level.INFO, "listening on " + listenAddress + (tls != null ? " (TLS)" : ""));
          reconcilePeers();
          return null;
        });
  }

  private static PemKeyCertOptions keyCertOptions(TlsOptions tls) {
    PemKeyCertOptions pem = new PemKeyCertOptions();
    if (tls.getCertPath() != null) {
      pem.setCertPath(tls.getCertPath());
    } else {
      pem.setCertValue(Buffer.buffer(tls.getCertValue()));
    }
    if (tls.getKeyPath() != null) {
      pem.setKeyPath(tls.getKeyPath());
    } else {
      pem.setKeyValue(Buffer.buffer(tls.getKeyValue()));
    }
    return pem;
  }

  private static PemTrustOptions trustOptions(TlsOptions tls) {
    return tls.getCaPath() != null ? new PemTrustOptions().addCertPath(tls.getCaPath())
        : new PemTrustOptions().addCertValue(Buffer.buffer(tls.getCaValue()));
  }

  @Override
  protected Future<Void> doClose() {
    for (Peer peer : peers.values()) {
      disconnect(peer);
    }
    peers.clear();
    for (NetSocket socket : List.copyOf(inbound)) {
      forceClose(socket);
    }
    inbound.clear();
    inboundByNode.clear();
    List<Future<?>> closing = new ArrayList<>();
    if (client != null) {
      closing.add(client.close());
    }
    if (server != null) {
      closing.add(server.close());
    }
    return Future.join(closing).mapEmpty();
  }

  // ---------------------------------------------------------------------------------------------
  // Inbound (all on the context)
  // ---------------------------------------------------------------------------------------------

  /** A connection failed before it was handed over: over TLS, mostly a failed handshake. */
  private void onConnectionFailure(Throwable e) {
    if (isOpen()) {
      rejectConnection("inbound connection failed" + (isTls() ? " (TLS handshake)" : "") + ": "
          + (e.getMessage() != null ? e.getMessage() : e.toString()));
    }
  }

  private void onConnection(NetSocket socket) {
    if (!isOpen()) {
      forceClose(socket);
      return;
    }
    String node = null;
    if (isTls()) {
      node = certifiedNodeId(socket);
      if (node == null) {
        rejectConnection("the certificate of " + socket.remoteAddress()
            + " does not name a node (its subject needs one CN that is a valid node id)");
        forceClose(socket);
        return;
      }
      NetSocket previous = inboundByNode.put(node, socket);
      if (previous != null) {
        forceClose(previous);
      }
    }
    inbound.add(socket);
    String authenticated = node;
    socket.handler(BridgeFrames.reader(options.maxFrameBytes(),
        frame -> onFrame(socket, authenticated, frame),
        binary -> onBinary(socket, authenticated, binary),
        error -> {
          String reason = "frame from " + describe(socket, authenticated) + ": " + error;
          metrics.reject(reason);
          rejectConnection(reason);
          closeWithError(socket, "invalid_frame");
        }));
    socket.exceptionHandler(e -> {
      log(Level.DEBUG, "inbound connection from " + describe(socket, authenticated) + " failed: "
          + e);
      forceClose(socket);
    });
    socket.closeHandler(v -> {
      inbound.remove(socket);
      if (authenticated != null) {
        inboundByNode.remove(authenticated, socket);
      }
    });
  }

  private void onFrame(NetSocket socket, String authenticated, JsonObject frame) {
    Object type = frame.getValue("type");
    if ("ping".equals(type)) {
      reply(socket, BridgeFrames.pong());
      return;
    }
    if (!(type instanceof String t) || !FRAME_TYPES.contains(t)) {
      refuse(socket, "unknown_type", "frame of unknown type " + abbreviate(type));
      return;
    }
    Object address = frame.getValue("address");
    if (!(address instanceof String)) {
      refuse(socket, "address_required", t + " frame without an address");
      return;
    }
    if (!"send".equals(t) || !ownRpcAddress.equals(address)) {
      refuse(socket, "access_denied", t + " to " + abbreviate(address) + " is not permitted");
      return;
    }
    onInbound(socket, authenticated, frame.getValue("body"));
  }

  private void onInbound(NetSocket socket, String authenticated, Object body) {
    if (!(body instanceof JsonObject json)) {
      refuse(socket, "invalid_message", "bridge body is not a JSON object: "
          + (body == null ? "null" : body.getClass().getSimpleName()));
      return;
    }
    Message message;
    try {
      message = wire.decode(json);
    } catch (WireFormatException e) {
      refuse(socket, "invalid_message", e.getMessage());
      return;
    }
    accept(socket, authenticated, message);
  }

  /** A frame holding a message in binary form (AppendEntries and its response). */
  private void onBinary(NetSocket socket, String authenticated, Buffer frame) {
    Message message;
    try {
      message = wire.decodeBinary(frame);
    } catch (WireFormatException e) {
      refuse(socket, "invalid_message", e.getMessage());
      return;
    }
    accept(socket, authenticated, message);
  }

  private void accept(NetSocket socket, String authenticated, Message message) {
    if (authenticated != null && !authenticated.equals(message.from())) {
      rejectSender("message from '" + message.from() + "' on a connection authenticated as '"
          + authenticated + "'");
      reply(socket, BridgeFrames.error("wrong_sender"));
      return;
    }
    if (!deliver(message)) {
      reply(socket, BridgeFrames.error("refused"));
    }
  }

  /** Refuses a frame or message (counted in {@link TransportMetrics#rejected()}) and says so. */
  private void refuse(NetSocket socket, String code, String reason) {
    reject(reason);
    reply(socket, BridgeFrames.error(code));
  }

  /** Answers on an inbound connection, unless the peer does not read its answers. */
  private static void reply(NetSocket socket, Buffer frame) {
    if (!socket.writeQueueFull()) {
      socket.write(frame);
    }
  }

  /** Sends an error frame, then closes, within {@link #ERROR_FLUSH_MILLIS} at most. */
  private void closeWithError(NetSocket socket, String code) {
    socket.pause();
    Future<Void> written = socket.writeQueueFull() ? Future.succeededFuture()
        : socket.write(BridgeFrames.error(code));
    long timer = vertx.setTimer(ERROR_FLUSH_MILLIS, id -> forceClose(socket));
    written.onComplete(ar -> {
      vertx.cancelTimer(timer);
      forceClose(socket);
    });
  }

  private static String describe(NetSocket socket, String authenticated) {
    return authenticated != null ? "node " + authenticated + " at " + socket.remoteAddress()
        : String.valueOf(socket.remoteAddress());
  }

  private static String abbreviate(Object value) {
    String text = String.valueOf(value);
    return text.length() <= 100 ? text : text.substring(0, 100) + "...";
  }

  /**
   * @param socket a TLS connection
   * @return the node id the other end's certificate names: its subject's only CN, if that is a
   *     valid node id; else null
   */
  static String certifiedNodeId(NetSocket socket) {
    List<Certificate> chain;
    try {
      chain = socket.peerCertificates();
    } catch (SSLPeerUnverifiedException e) {
      return null;
    }
    if (chain == null || chain.isEmpty() || !(chain.get(0) instanceof X509Certificate cert)) {
      return null;
    }
    return nodeIdOf(cert.getSubjectX500Principal());
  }

  /**
   * @param subject a certificate's subject
   * @return its only CN, if that is a valid node id ({@link RaftWire#checkNodeId}); else null
   */
  static String nodeIdOf(X500Principal subject) {
    String cn = null;
    try {
      for (Rdn rdn : new LdapName(subject.getName(X500Principal.RFC2253)).getRdns()) {
        // An RDN may hold several attributes (CN=a+CN=b): look at each of them.
        NamingEnumeration<? extends Attribute> attributes = rdn.toAttributes().getAll();
        while (attributes.hasMore()) {
          Attribute attribute = attributes.next();
          if (!"CN".equalsIgnoreCase(attribute.getID())) {
            continue;
          }
          if (cn != null || attribute.size() != 1
              || !(attribute.get() instanceof String value)) {
            return null;
          }
          cn = value;
        }
      }
      return cn == null ? null : RaftWire.checkNodeId(cn);
    } catch (NamingException | IllegalArgumentException e) {
      return null;
    }
  }

  /**
   * @param host a host name or IP literal
   * @return true for {@code localhost} and loopback IP literals; no name is looked up
   */
  static boolean isLoopback(String host) {
    if (host.equalsIgnoreCase("localhost") || host.matches("127(\\.\\d{1,3}){3}")) {
      return true;
    }
    if (host.indexOf(':') >= 0) {
      try {
        return InetAddress.getByName(host).isLoopbackAddress(); // an IPv6 literal: no lookup
      } catch (UnknownHostException e) {
        return false;
      }
    }
    return false;
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
      // the hot messages go in binary form, which only our own server reads; the rest as the
      // bridge's JSON frames
      Buffer frame = RaftWire.supportsBinary(message)
          ? BridgeFrames.frame(wire.encodeBinary(message))
          : BridgeFrames.send(peer.rpcAddress, wire.encode(message));
      socket.write(frame)
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
        if (!isTls() && !isLoopback(address.host())) {
          log(Level.WARNING, "dialling " + id + " in plain TCP at " + address + ", not a loopback"
              + " address: node-to-node traffic is neither encrypted nor authenticated");
        }
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
        if (isTlsFailure(ar.cause())) {
          warn("TLS handshake with " + peer.id + " at " + peer.address + " failed: "
              + ar.cause().getMessage());
        } else {
          log(Level.DEBUG, "cannot reach " + peer.id + " at " + peer.address + ": "
              + ar.cause().getMessage());
        }
        scheduleReconnect(peer);
        return;
      }
      NetSocket socket = ar.result();
      if (isTls()) {
        String named = certifiedNodeId(socket);
        if (!peer.id.equals(named)) {
          rejectConnection("the certificate of " + peer.address + " names "
              + (named == null ? "no node" : "node '" + named + "'") + ", not " + peer.id);
          forceClose(socket);
          scheduleReconnect(peer);
          return;
        }
      }
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

  private static boolean isTlsFailure(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof SSLException) {
        return true;
      }
    }
    return false;
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
