package dev.raftvertx.kv;

import static dev.raftvertx.client.KvBinaryProtocol.BAD_REQUEST;
import static dev.raftvertx.client.KvBinaryProtocol.CONFLICT;
import static dev.raftvertx.client.KvBinaryProtocol.INDETERMINATE;
import static dev.raftvertx.client.KvBinaryProtocol.NOT_FOUND;
import static dev.raftvertx.client.KvBinaryProtocol.NOT_LEADER;
import static dev.raftvertx.client.KvBinaryProtocol.OK;
import static dev.raftvertx.client.KvBinaryProtocol.OVERLOADED;
import static dev.raftvertx.client.KvBinaryProtocol.TOO_LARGE;
import static dev.raftvertx.client.KvBinaryProtocol.UNAUTHORIZED;
import static dev.raftvertx.client.KvBinaryProtocol.UNAVAILABLE;

import dev.raftvertx.Committed;
import dev.raftvertx.NodeStatus;
import dev.raftvertx.RaftException;
import dev.raftvertx.RaftNode;
import dev.raftvertx.client.KvBinaryProtocol;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.NetSocket;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The binary client API of one key-value node ({@link KvBinaryProtocol}): a TCP server whose
 * connections each carry many requests at once, answered as they complete (in any order, matched
 * by id) and written in batches: the answers completed in one event-loop turn go out in one
 * write.
 *
 * <p>Writes and linearizable reads go through {@link RaftNode#propose} and {@link RaftNode#read}
 * with exactly the commands and queries of {@link KvHttpServer}, so both APIs see the same store
 * with the same semantics. Unlike the HTTP API a follower does not forward them: it answers
 * NOT_LEADER naming the leader (and the leader's client address when
 * {@link #clientAddresses(Map)} knows it), so that clients talk to the leader directly. Stale
 * reads are answered by any node.
 *
 * <p><b>Threading:</b> the server listens from the node's own context and handles every
 * connection's bytes there, where the node completes its futures: no request or answer crosses
 * threads, and nothing blocks (decoding and encoding are bounded by the frame size). Frames are
 * bounded; a length out of bounds closes the connection; each connection has at most
 * {@code maxInFlight} requests in flight (beyond: OVERLOADED) and stops reading while its
 * socket's write queue is full. With a key-value token ({@link #kvToken}) a connection must
 * present it before any op but STATUS.
 */
public final class KvBinaryServer {

  /** Default bound of the requests in flight on one connection. */
  public static final int DEFAULT_MAX_IN_FLIGHT = 4096;

  private final Vertx vertx;
  private final RaftNode node;
  private final int maxFrameBytes;
  private int maxInFlight = DEFAULT_MAX_IN_FLIGHT;
  private final Map<String, String> clientAddresses = new ConcurrentHashMap<>();
  private volatile byte[] kvTokenDigest;
  private volatile Context context;
  private volatile NetServer server;
  private volatile MessageConsumer<JsonObject> events;
  /** On the node's context: what the node's events last said. */
  private boolean leading;
  private String leaderId;
  private final Set<Connection> connections = new HashSet<>();

  /**
   * @param vertx the Vert.x instance of the node
   * @param node the node this server fronts
   * @param maxFrameBytes the largest request frame accepted (capped at
   *     {@link KvBinaryProtocol#MAX_FRAME_BYTES})
   */
  public KvBinaryServer(Vertx vertx, RaftNode node, int maxFrameBytes) {
    this.vertx = vertx;
    this.node = node;
    this.maxFrameBytes = Math.min(maxFrameBytes, KvBinaryProtocol.MAX_FRAME_BYTES);
  }

  /**
   * Tells the server the client address of nodes, for the leader hint of NOT_LEADER answers.
   *
   * @param addresses node id to "host:port" of its binary client API
   * @return a reference to this, so the API can be used fluently
   */
  public KvBinaryServer clientAddresses(Map<String, String> addresses) {
    clientAddresses.putAll(addresses);
    return this;
  }

  /**
   * Requires the key-value token, as {@link KvHttpServer#kvToken} does for HTTP: a connection
   * must present it (op AUTH) before any op but STATUS. Compared through SHA-256 digests with
   * {@link MessageDigest#isEqual}.
   *
   * @param token the token, or null for an open API
   * @return a reference to this, so the API can be used fluently
   * @throws IllegalArgumentException if the token is blank
   */
  public KvBinaryServer kvToken(String token) {
    if (token != null && token.isBlank()) {
      throw new IllegalArgumentException("the key-value token must not be blank");
    }
    this.kvTokenDigest = token == null ? null : digest(token);
    return this;
  }

  private static byte[] digest(String token) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * @param maxInFlight requests in flight on one connection beyond which it answers OVERLOADED
   * @return a reference to this, so the API can be used fluently
   */
  public KvBinaryServer maxInFlight(int maxInFlight) {
    this.maxInFlight = maxInFlight;
    return this;
  }

  /**
   * Starts serving, from the node's context.
   *
   * @param host the bind address
   * @param port the port (0 for any free one)
   * @return the server once listening
   */
  public Future<NetServer> listen(String host, int port) {
    Promise<NetServer> result = Promise.promise();
    onNodeStatus(0, (ctx, st) -> {
      context = ctx;
      leading = "leader".equals(st.role());
      leaderId = st.leaderId();
      events = vertx.eventBus().localConsumer("raft." + st.clusterId() + "." + node.id()
          + ".events", m -> {
            leading = "leader".equals(m.body().getString("role"));
            leaderId = m.body().getString("leaderId");
          });
      server = vertx.createNetServer(new NetServerOptions().setTcpNoDelay(true))
          .connectHandler(this::onConnection);
      server.listen(port, host).onComplete(result);
    }, result);
    return result.future();
  }

  /**
   * Runs {@code then} on the node's context with its status: the node completes its futures
   * there, unless the future was complete before its listener was added (then the listener runs
   * on the caller's thread, and the status is asked again).
   */
  private void onNodeStatus(int attempt, java.util.function.BiConsumer<Context, NodeStatus> then,
      Promise<?> result) {
    AtomicBoolean returned = new AtomicBoolean();
    node.status().onComplete(ar -> {
      if (ar.failed()) {
        result.fail(ar.cause());
        return;
      }
      Context ctx = Vertx.currentContext();
      boolean onCaller = !returned.get() && attempt < 100;
      if (ctx == null || onCaller) {
        if (attempt >= 100) {
          result.fail(new IllegalStateException("the node answered off its context"));
        } else {
          onNodeStatus(attempt + 1, then, result);
        }
        return;
      }
      then.accept(ctx, ar.result());
    });
    returned.set(true);
  }

  /** @return the port listened on, or -1 before {@link #listen} completed */
  public int actualPort() {
    return server == null ? -1 : server.actualPort();
  }

  /** @return a future completed once the server and its connections are closed */
  public Future<Void> close() {
    if (context == null) {
      return Future.succeededFuture();
    }
    Promise<Void> done = Promise.promise();
    context.runOnContext(v -> {
      List<Future<?>> all = new ArrayList<>();
      if (events != null) {
        all.add(events.unregister());
      }
      for (Connection c : List.copyOf(connections)) {
        all.add(c.socket.close());
      }
      connections.clear();
      all.add(server.close());
      Future.join(all).<Void>mapEmpty().onComplete(done);
    });
    return done.future();
  }

  private void onNodeContext(Runnable r) {
    if (Vertx.currentContext() == context) {
      r.run();
    } else {
      context.runOnContext(v -> r.run());
    }
  }

  private void onConnection(NetSocket socket) {
    // Handlers at once (no byte may arrive before them); their work runs on the node's context.
    Connection c = new Connection(socket);
    socket.handler(b -> onNodeContext(() -> c.reader.handle(b)));
    socket.exceptionHandler(e -> socket.close());
    socket.closeHandler(v -> onNodeContext(() -> {
      c.closed = true;
      c.reader.stop();
      connections.remove(c);
    }));
    onNodeContext(() -> {
      if (!c.closed) {
        connections.add(c);
      }
    });
  }

  /** One client connection; confined to the node's context. */
  private final class Connection {
    final NetSocket socket;
    final KvBinaryProtocol.FrameReader reader;
    Buffer out;
    int frameStart;
    int inFlight;
    boolean closed;
    boolean paused;
    boolean authenticated = kvTokenDigest == null;

    Connection(NetSocket socket) {
      this.socket = socket;
      this.reader = new KvBinaryProtocol.FrameReader(maxFrameBytes, this::onFrame, reason -> {
        closed = true;
        socket.close();
      });
    }

    void onFrame(Buffer payload) {
      KvBinaryProtocol.Cursor in = new KvBinaryProtocol.Cursor(payload);
      long id = in.int64("id");
      int op = in.uint8("op");
      String key;
      String value;
      String expect = null;
      try {
        key = in.str16("key");
        value = in.text32("value");
        if (op == KvBinaryProtocol.OP_CAS) {
          expect = in.text32("expect");
        }
        if (!in.atEnd()) {
          throw new IllegalArgumentException("trailing bytes after the request");
        }
      } catch (IllegalArgumentException e) {
        badRequest(id, e.getMessage());
        return;
      }
      if (op != KvBinaryProtocol.OP_STATUS && op != KvBinaryProtocol.OP_AUTH && key.isEmpty()) {
        badRequest(id, "the key must not be empty");
        return;
      }
      if ((op == KvBinaryProtocol.OP_PUT || op == KvBinaryProtocol.OP_CAS) && value == null) {
        badRequest(id, "a value is required");
        return;
      }
      if (op == KvBinaryProtocol.OP_AUTH) {
        authenticated = kvTokenDigest == null || (value != null
            && MessageDigest.isEqual(digest(value), kvTokenDigest));
        if (authenticated) {
          endFrame(frame(id, OK));
        } else {
          error(id, UNAUTHORIZED, null, "UNAUTHORIZED", "wrong key-value token; not applied");
        }
        return;
      }
      if (!authenticated && op != KvBinaryProtocol.OP_STATUS) {
        error(id, UNAUTHORIZED, null, "UNAUTHORIZED", "this node requires the key-value token"
            + " (op AUTH first); not applied");
        return;
      }
      if (inFlight >= maxInFlight) {
        error(id, OVERLOADED, null, "OVERLOADED", maxInFlight + " requests in flight on this"
            + " connection; not applied, retry later");
        return;
      }
      switch (op) {
        case KvBinaryProtocol.OP_STATUS -> {
          inFlight++;
          node.status().onComplete(ar -> {
            inFlight--;
            if (ar.failed()) {
              fail(id, ar.cause());
              return;
            }
            Buffer o = frame(id, OK);
            KvBinaryProtocol.appendStr16(o, ar.result().id());
            KvBinaryProtocol.appendStr16(o, ar.result().role());
            KvBinaryProtocol.appendStr16(o, ar.result().leaderId());
            o.appendLong(ar.result().term());
            endFrame(o);
          });
        }
        case KvBinaryProtocol.OP_PUT -> write(id, new KvCommand.Put(key, value), c -> {
          Buffer o = frame(id, OK);
          o.appendLong(c.index());
          endFrame(o);
        });
        case KvBinaryProtocol.OP_DELETE -> write(id, new KvCommand.Delete(key), c -> {
          Buffer o = frame(id, KvCodec.deleted(c.result()) ? OK : NOT_FOUND);
          o.appendLong(c.index());
          endFrame(o);
        });
        case KvBinaryProtocol.OP_CAS -> write(id, new KvCommand.CompareAndSet(key, expect, value),
            c -> {
              KvCodec.CasOutcome r = KvCodec.CasOutcome.of(c.result());
              Buffer o = frame(id, r.swapped() ? OK : CONFLICT);
              o.appendLong(c.index());
              if (!r.swapped()) {
                String current = r.current();
                KvBinaryProtocol.appendBytes32(o, current == null ? null : Buffer.buffer(current));
              }
              endFrame(o);
            });
        case KvBinaryProtocol.OP_GET, KvBinaryProtocol.OP_GET_STALE -> {
          boolean stale = op == KvBinaryProtocol.OP_GET_STALE;
          if (!stale && redirected(id)) {
            return;
          }
          inFlight++;
          Buffer q = KvCodec.query(key);
          (stale ? node.readLocal(q) : node.read(q)).onComplete(ar -> {
            inFlight--;
            if (ar.failed()) {
              fail(id, ar.cause());
              return;
            }
            String found = KvCodec.value(ar.result());
            if (found != null) {
              Buffer o = frame(id, OK);
              KvBinaryProtocol.appendBytes32(o, Buffer.buffer(found));
              endFrame(o);
            } else {
              endFrame(frame(id, NOT_FOUND));
            }
          });
        }
        default -> badRequest(id, "unknown op " + op);
      }
    }

    /** Answers NOT_LEADER if this node knows it does not lead. */
    boolean redirected(long id) {
      if (leading || node.id().equals(leaderId)) {
        return false;
      }
      error(id, NOT_LEADER, leaderId, "NOT_LEADER", leaderId == null
          ? "no leader is known; not applied" : "not the leader (the leader is " + leaderId
          + "); not applied");
      return true;
    }

    void write(long id, KvCommand command, java.util.function.Consumer<Committed> onCommitted) {
      if (redirected(id)) {
        return;
      }
      inFlight++;
      node.propose(command.encode()).onComplete(ar -> {
        inFlight--;
        if (ar.succeeded()) {
          onCommitted.accept(ar.result());
        } else {
          fail(id, ar.cause());
        }
      });
    }

    void fail(long id, Throwable e) {
      if (e instanceof RaftException re) {
        int status = switch (re.error()) {
          case NOT_LEADER -> NOT_LEADER;
          case OVERLOADED -> OVERLOADED;
          case TOO_LARGE -> TOO_LARGE;
          default -> re.knownNotApplied() ? UNAVAILABLE : INDETERMINATE;
        };
        error(id, status, re.leaderHint(), re.error().name(), re.getMessage());
      } else if (e instanceof IllegalArgumentException) {
        badRequest(id, e.getMessage());
      } else {
        error(id, INDETERMINATE, null, "INTERNAL", String.valueOf(e));
      }
    }

    void badRequest(long id, String message) {
      error(id, BAD_REQUEST, null, "BAD_REQUEST", message + "; not applied");
    }

    void error(long id, int status, String leader, String code, String message) {
      KvBinaryProtocol.appendError(out(), id, status, leader,
          leader == null ? null : clientAddresses.get(leader), code, message);
    }

    /** Starts a response frame in the output; {@link #endFrame} fills in its length. */
    Buffer frame(long id, int status) {
      Buffer o = out();
      frameStart = o.length();
      o.appendInt(0).appendLong(id).appendByte((byte) status);
      return o;
    }

    /** Ends the frame begun by the last {@link #frame} (frames are built whole in one call). */
    void endFrame(Buffer o) {
      o.setInt(frameStart, o.length() - frameStart - 4);
    }

    /** @return the output buffer of this turn; the first use schedules its flush */
    Buffer out() {
      if (out == null) {
        out = Buffer.buffer(256);
        context.runOnContext(v -> flush());
      }
      return out;
    }

    void flush() {
      Buffer o = out;
      out = null;
      if (o == null || closed || o.length() == 0) {
        return;
      }
      socket.write(o);
      if (!paused && socket.writeQueueFull()) {
        paused = true;
        socket.pause();
        socket.drainHandler(v -> onNodeContext(() -> {
          paused = false;
          socket.resume();
        }));
      }
    }
  }
}
