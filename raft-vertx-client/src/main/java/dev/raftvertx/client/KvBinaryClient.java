package dev.raftvertx.client;

import static dev.raftvertx.client.KvBinaryProtocol.CONFLICT;
import static dev.raftvertx.client.KvBinaryProtocol.INDETERMINATE;
import static dev.raftvertx.client.KvBinaryProtocol.NOT_FOUND;
import static dev.raftvertx.client.KvBinaryProtocol.NOT_LEADER;
import static dev.raftvertx.client.KvBinaryProtocol.OK;
import static dev.raftvertx.client.KvBinaryProtocol.OP_CAS;
import static dev.raftvertx.client.KvBinaryProtocol.OP_DELETE;
import static dev.raftvertx.client.KvBinaryProtocol.OP_GET;
import static dev.raftvertx.client.KvBinaryProtocol.OP_GET_STALE;
import static dev.raftvertx.client.KvBinaryProtocol.OP_PUT;
import static dev.raftvertx.client.KvBinaryProtocol.OP_STATUS;
import static dev.raftvertx.client.KvBinaryProtocol.OVERLOADED;
import static dev.raftvertx.client.KvBinaryProtocol.UNAVAILABLE;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.NetSocket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A client of the sample key-value store's binary protocol ({@link KvBinaryProtocol}): a few TCP
 * connections to the leader, each carrying many requests at once (pipelined, answered in any
 * order, matched by id); the requests issued in one event-loop turn go out in one write.
 *
 * <p><b>Leader:</b> it asks the endpoints for their status to find the leader, and follows the
 * leader a NOT_LEADER answer names (by its client address, or by the node id it learnt from the
 * statuses).
 *
 * <p><b>Retries:</b> an answer that says nothing was applied (NOT_LEADER, UNAVAILABLE,
 * OVERLOADED) and a connection that could not be opened are retried, with a short back-off, until
 * {@link KvBinaryClientOptions#getRetryTimeoutMillis()}. Reads are also retried after a lost
 * connection, an INDETERMINATE answer or a timeout. A write whose outcome is unknown (no answer
 * within {@link KvBinaryClientOptions#getRequestTimeoutMillis()}, a connection lost after sending,
 * INDETERMINATE) fails with a {@link KvClientException} whose {@code knownNotApplied()} is false:
 * it may or may not have been applied. Failures carry {@code status() == 0} and the protocol's
 * error code (NOT_LEADER, OVERLOADED, TIMEOUT, UNAUTHORIZED, ...) as {@code code()}.
 * With {@link KvBinaryClientOptions#setToken} every connection presents the key-value token
 * first.
 *
 * <p><b>Bounds:</b> at most {@link KvBinaryClientOptions#getMaxInFlight()} calls in flight; more
 * wait in a queue of at most {@link KvBinaryClientOptions#getMaxWaiting()}, beyond which a call
 * fails at once (not applied).
 *
 * <p>Thread-safe; all its state lives on the event-loop context it was created on (a new one when
 * created outside Vert.x), where its Futures complete.
 */
public final class KvBinaryClient {

  private final Vertx vertx;
  private final Context context;
  private final KvBinaryClientOptions options;
  private final NetClient net;
  private final List<String> endpoints = new ArrayList<>();
  /** Node id to client address, learnt from the nodes' status. Confined to the context. */
  private final Map<String, String> byId = new HashMap<>();
  private final Map<String, Endpoint> pools = new HashMap<>();
  private final ArrayDeque<Call> waiting = new ArrayDeque<>();
  private long sweepTimer = -1;
  private volatile Thread thread;
  private String leader;
  private Promise<String> discovery;
  private long nextId;
  private int admitted;
  private boolean closed;

  /** One call, through its retries. */
  private static final class Call {
    final int op;
    final byte[] key;
    final Buffer value;
    final Buffer expect;
    final Promise<Object> promise = Promise.promise();
    /** Not counted in flight, sent to one node, never retried: a status asked by discovery. */
    final String target;
    final long deadlineMillis;
    int attempts;
    long id;
    long sentNanos;
    Conn conn;

    Call(int op, byte[] key, Buffer value, Buffer expect, String target, long deadlineMillis) {
      this.op = op;
      this.key = key;
      this.value = value;
      this.expect = expect;
      this.target = target;
      this.deadlineMillis = deadlineMillis;
    }

    boolean write() {
      return op == OP_PUT || op == OP_DELETE || op == OP_CAS;
    }
  }

  private KvBinaryClient(Vertx vertx, KvBinaryClientOptions options) {
    if (options.getEndpoints().isEmpty()) {
      throw new IllegalArgumentException("at least one endpoint is required");
    }
    for (String e : options.getEndpoints()) {
      parse(e);
      endpoints.add(e);
    }
    this.vertx = vertx;
    this.options = options;
    Context current = Vertx.currentContext();
    this.context = current != null && current.isEventLoopContext() ? current
        : vertx.getOrCreateContext();
    if (!context.isEventLoopContext()) {
      throw new IllegalStateException("create the client on an event loop or outside Vert.x");
    }
    this.net = vertx.createNetClient(new NetClientOptions().setTcpNoDelay(true)
        .setConnectTimeout((int) Math.min(Integer.MAX_VALUE, options.getRequestTimeoutMillis())));
    long period = Math.max(10, Math.min(100, options.getRequestTimeoutMillis() / 10));
    context.runOnContext(v -> {
      thread = Thread.currentThread();
      if (!closed) {
        sweepTimer = vertx.setPeriodic(period, id -> sweep());
      }
    });
  }

  /**
   * @param vertx the Vert.x instance
   * @param options the options, with the endpoints set
   * @return a new client, bound to the current event-loop context or to a new one
   */
  public static KvBinaryClient create(Vertx vertx, KvBinaryClientOptions options) {
    return new KvBinaryClient(vertx, options);
  }

  /**
   * Sets a key; completes once the write is committed and applied.
   *
   * @param key the key (not empty)
   * @param value the value (UTF-8 text)
   * @return the log index of the write
   */
  public Future<Long> put(String key, Buffer value) {
    return call(OP_PUT, key, value, null).map(o -> (Long) o);
  }

  /**
   * A linearizable read.
   *
   * @param key the key
   * @return the value, or null if the key is absent
   */
  public Future<Buffer> get(String key) {
    return get(key, false);
  }

  /**
   * A read.
   *
   * @param key the key
   * @param stale true to read the leader's applied state without a ReadIndex round (possibly
   *     stale); false for a linearizable read
   * @return the value, or null if the key is absent
   */
  public Future<Buffer> get(String key, boolean stale) {
    return call(stale ? OP_GET_STALE : OP_GET, key, null, null).map(o -> (Buffer) o);
  }

  /**
   * Removes a key.
   *
   * @param key the key
   * @return true if it was present
   */
  public Future<Boolean> delete(String key) {
    return call(OP_DELETE, key, null, null).map(o -> (Boolean) o);
  }

  /**
   * Sets a key only if its value is {@code expect}.
   *
   * @param key the key
   * @param expect the value expected now, or null for "only if absent"
   * @param value the new value
   * @return true if swapped, false if the current value was not the expected one
   */
  public Future<Boolean> compareAndSet(String key, Buffer expect, Buffer value) {
    return call(OP_CAS, key, value, expect).map(o -> (Boolean) o);
  }

  /**
   * @param endpoint a node's client address, "host:port"
   * @return its status: {@code {"id", "role", "leaderId", "term"}}
   */
  public Future<JsonObject> status(String endpoint) {
    parse(endpoint);
    Call c = new Call(OP_STATUS, new byte[0], null, null, endpoint, 0);
    onContext(() -> dispatch(c));
    return c.promise.future().map(o -> (JsonObject) o);
  }

  /** @return the client address ("host:port") of the leader, found anew */
  public Future<String> leader() {
    Promise<String> p = Promise.promise();
    onContext(() -> {
      leader = null;
      discover().onComplete(p);
    });
    return p.future();
  }

  /**
   * Closes the connections; calls still in flight fail (writes with an unknown outcome).
   *
   * @return a future completed once closed
   */
  public Future<Void> close() {
    Promise<Void> p = Promise.promise();
    onContext(() -> {
      if (closed) {
        p.complete();
        return;
      }
      closed = true;
      vertx.cancelTimer(sweepTimer);
      KvClientException notSent = new KvClientException(0, "CLOSED", true, "the client is"
          + " closed; not sent", null);
      for (Call c; (c = waiting.poll()) != null; ) {
        c.promise.tryFail(notSent);
      }
      for (Endpoint ep : List.copyOf(pools.values())) {
        for (Call c; (c = ep.queued.poll()) != null; ) {
          c.promise.tryFail(notSent);
        }
        for (Conn conn : List.copyOf(ep.conns)) {
          conn.lost("the client was closed");
        }
      }
      net.close().onComplete(p);
    });
    return p.future();
  }

  // ---------------------------------------------------------------------------------------------
  // Calls (all on the context)
  // ---------------------------------------------------------------------------------------------

  private Future<Object> call(int op, String key, Buffer value, Buffer expect) {
    byte[] k = key.getBytes(StandardCharsets.UTF_8);
    if (k.length == 0 || k.length > 0xFFFF) {
      return Future.failedFuture(new IllegalArgumentException("a key has 1 to 65535 bytes"));
    }
    if ((op == OP_PUT || op == OP_CAS) && value == null) {
      return Future.failedFuture(new IllegalArgumentException("a value is required"));
    }
    Call c = new Call(op, k, value, expect, null,
        System.currentTimeMillis() + options.getRetryTimeoutMillis());
    onContext(() -> admit(c));
    return c.promise.future();
  }

  private void onContext(Runnable r) {
    if (Vertx.currentContext() == context || Thread.currentThread() == thread) {
      r.run();
    } else {
      context.runOnContext(v -> r.run());
    }
  }

  private void admit(Call c) {
    if (closed) {
      c.promise.tryFail(new KvClientException(0, "CLOSED", true, "the client is closed", null));
    } else if (admitted < options.getMaxInFlight()) {
      admitted++;
      dispatch(c);
    } else if (waiting.size() < options.getMaxWaiting()) {
      waiting.add(c);
    } else {
      c.promise.tryFail(new KvClientException(0, "OVERLOADED", true, options.getMaxInFlight()
          + " calls in flight and " + waiting.size() + " waiting; not sent", null));
    }
  }

  private void succeed(Call c, Object result) {
    if (c.promise.tryComplete(result)) {
      released(c);
    }
  }

  private void fail(Call c, KvClientException e) {
    if (c.promise.tryFail(e)) {
      released(c);
    }
  }

  private void released(Call c) {
    if (c.target != null) {
      return;
    }
    admitted--;
    Call next = waiting.poll();
    if (next != null) {
      admitted++;
      dispatch(next);
    }
  }

  private void dispatch(Call c) {
    if (closed) {
      fail(c, new KvClientException(0, "CLOSED", true, "the client is closed", null));
      return;
    }
    String to = c.target != null ? c.target : leader;
    if (to != null) {
      pool(to).send(c);
      return;
    }
    discover().onComplete(ar -> {
      if (ar.succeeded()) {
        pool(ar.result()).send(c);
      } else {
        retry(c, ar.cause() instanceof KvClientException e ? e : new KvClientException(0,
            "NO_LEADER", true, String.valueOf(ar.cause()), ar.cause()), true);
      }
    });
  }

  private void retry(Call c, KvClientException cause, boolean backOff) {
    if (c.target != null) {
      fail(c, cause);
      return;
    }
    c.attempts++;
    long delay = backOff ? Math.min(100, 5L << Math.min(c.attempts - 1, 5)) : 0;
    if (closed || System.currentTimeMillis() + delay > c.deadlineMillis) {
      fail(c, cause);
    } else if (delay == 0) {
      dispatch(c);
    } else {
      vertx.setTimer(delay, id -> dispatch(c));
    }
  }

  /** A write whose request may have reached the node fails; a read is retried. */
  private void unknownOutcome(Call c, KvClientException e) {
    if (c.write() || c.target != null) {
      fail(c, e);
    } else {
      retry(c, e, true);
    }
  }

  private void answered(Call c, int status, KvBinaryProtocol.Cursor in, String from) {
    switch (status) {
      case OK -> succeed(c, switch (c.op) {
        case OP_STATUS -> {
          JsonObject s = new JsonObject().put("id", in.str16("id")).put("role", in.str16("role"));
          String l = in.str16("leaderId");
          s.put("leaderId", l.isEmpty() ? null : l).put("term", in.int64("term"));
          byId.put(s.getString("id"), from);
          yield s;
        }
        case OP_PUT -> in.int64("index");
        case OP_GET, OP_GET_STALE -> {
          Buffer v = in.bytes32("value");
          yield v == null ? Buffer.buffer() : v;
        }
        default -> Boolean.TRUE;
      });
      case NOT_FOUND -> succeed(c, c.op == OP_DELETE ? Boolean.FALSE : null);
      case CONFLICT -> succeed(c, Boolean.FALSE);
      default -> {
        String leaderId = in.str16("leader");
        String address = in.str16("address");
        String code = in.str16("code");
        String message = in.str16("message");
        KvClientException e = new KvClientException(0, code, status != INDETERMINATE,
            KvBinaryProtocol.statusName(status) + " from " + from + ": " + message, null);
        switch (status) {
          case NOT_LEADER -> {
            if (!leaderId.isEmpty() && !address.isEmpty()) {
              byId.put(leaderId, address);
            }
            String next = !address.isEmpty() ? address
                : leaderId.isEmpty() ? null : byId.get(leaderId);
            boolean moved = next != null && !next.equals(from);
            if (c.target == null && from.equals(leader)) {
              leader = moved ? next : null;
            }
            retry(c, e, !moved || c.attempts >= 3);
          }
          case UNAVAILABLE, OVERLOADED -> retry(c, e, true);
          case INDETERMINATE -> unknownOutcome(c, e);
          default -> fail(c, e); // BAD_REQUEST, TOO_LARGE, unknown statuses: not applied
        }
      }
    }
  }

  /** Asks every endpoint for its status; one discovery at a time. */
  private Future<String> discover() {
    if (discovery != null) {
      return discovery.future();
    }
    Promise<String> p = Promise.promise();
    discovery = p;
    List<Future<JsonObject>> answers = new ArrayList<>();
    for (String e : endpoints) {
      Call c = new Call(OP_STATUS, new byte[0], null, null, e, 0);
      dispatch(c);
      answers.add(c.promise.future().map(o -> (JsonObject) o).otherwise((JsonObject) null));
    }
    Future.all(answers).onComplete(ar -> {
      LeaderChoice choice = LeaderChoice.of(answers.stream().map(Future::result).toList());
      String best = null;
      if (choice.leader() >= 0) {
        best = endpoints.get(choice.leader());
      } else if (choice.hintedId() != null) {
        // A leader known by id only: its address, else the node that named it, whose
        // NOT_LEADER answer carries the leader's address when that node knows it.
        best = byId.getOrDefault(choice.hintedId(), endpoints.get(choice.hinting()));
      }
      discovery = null;
      if (best == null) {
        p.fail(new KvClientException(0, "NO_LEADER", true, "no node knows a leader", null));
      } else {
        leader = best;
        p.complete(best);
      }
    });
    return p.future();
  }

  /** Fails or retries the calls that had no answer in time. */
  private void sweep() {
    long limit = System.nanoTime() - TimeUnit.MILLISECONDS.toNanos(options.getRequestTimeoutMillis());
    for (Endpoint ep : List.copyOf(pools.values())) {
      for (Conn conn : List.copyOf(ep.conns)) {
        Iterator<Call> it = conn.pending.values().iterator();
        while (it.hasNext()) {
          Call c = it.next();
          if (c.sentNanos - limit > 0) {
            break; // sent in order: the rest are younger
          }
          it.remove();
          if (ep.address.equals(leader)) {
            leader = null;
          }
          unknownOutcome(c, new KvClientException(0, "TIMEOUT", false, "no answer from "
              + ep.address + " within " + options.getRequestTimeoutMillis() + " ms", null));
        }
      }
    }
  }

  private static String[] parse(String endpoint) {
    int colon = endpoint.lastIndexOf(':');
    if (colon <= 0) {
      throw new IllegalArgumentException("endpoint must be host:port: " + endpoint);
    }
    Integer.parseInt(endpoint.substring(colon + 1));
    return new String[] {endpoint.substring(0, colon), endpoint.substring(colon + 1)};
  }

  private Endpoint pool(String address) {
    return pools.computeIfAbsent(address, Endpoint::new);
  }

  // ---------------------------------------------------------------------------------------------
  // Connections (all on the context)
  // ---------------------------------------------------------------------------------------------

  /** The connections to one node. */
  private final class Endpoint {
    final String address;
    final String host;
    final int port;
    final List<Conn> conns = new ArrayList<>();
    /** Calls waiting for a connection to open. */
    final ArrayDeque<Call> queued = new ArrayDeque<>();

    Endpoint(String address) {
      this.address = address;
      String[] hp = parse(address);
      this.host = hp[0];
      this.port = Integer.parseInt(hp[1]);
    }

    void send(Call c) {
      int wanted = c.target != null ? 1 : options.getConnections();
      while (conns.size() < wanted) {
        open();
      }
      Conn best = null;
      for (Conn conn : conns) {
        if (conn.socket != null && (best == null || conn.pending.size() < best.pending.size())) {
          best = conn;
        }
      }
      if (best != null) {
        best.send(c);
      } else {
        queued.add(c);
      }
    }

    void open() {
      Conn conn = new Conn(this);
      conns.add(conn);
      net.connect(port, host).onComplete(ar -> onContext(() -> {
        if (ar.succeeded() && !closed) {
          conn.attach(ar.result());
          for (Call c; (c = queued.poll()) != null; ) {
            send(c);
          }
          return;
        }
        if (ar.succeeded()) {
          ar.result().close();
        }
        conns.remove(conn);
        if (conns.isEmpty()) {
          if (address.equals(leader)) {
            leader = null;
          }
          KvClientException e = new KvClientException(0, "UNREACHABLE", true, "cannot connect"
              + " to " + address + ": " + (ar.failed() ? ar.cause() : "client closed"),
              ar.cause());
          for (Call c; (c = queued.poll()) != null; ) {
            retry(c, e, true);
          }
        }
      }));
    }
  }

  /** One connection: its requests in flight by id (in the order sent) and its output. */
  private final class Conn {
    final Endpoint ep;
    final LinkedHashMap<Long, Call> pending = new LinkedHashMap<>();
    NetSocket socket;
    Buffer out;
    boolean closed;

    Conn(Endpoint ep) {
      this.ep = ep;
    }

    void attach(NetSocket s) {
      socket = s;
      if (options.getToken() != null) {
        // First on the connection, so the node reads it before any request; a refusal also
        // answers each request UNAUTHORIZED, which fails it (not applied).
        send(new Call(KvBinaryProtocol.OP_AUTH, new byte[0], Buffer.buffer(options.getToken()),
            null, ep.address, 0));
      }
      KvBinaryProtocol.FrameReader reader = new KvBinaryProtocol.FrameReader(
          options.getMaxFrameBytes(), this::onFrame, reason -> {
            lost("bad answer frame: " + reason);
            s.close();
          });
      s.handler(b -> onContext(() -> reader.handle(b)));
      s.exceptionHandler(e -> s.close());
      s.closeHandler(v -> onContext(() -> lost("the connection to " + ep.address + " closed")));
    }

    void send(Call c) {
      c.id = ++nextId;
      c.conn = this;
      c.sentNanos = System.nanoTime();
      pending.put(c.id, c);
      if (out == null) {
        out = Buffer.buffer(512);
        context.runOnContext(v -> flush());
      }
      KvBinaryProtocol.appendRequest(out, c.id, c.op, c.key, c.value, c.expect);
    }

    void flush() {
      Buffer o = out;
      out = null;
      if (o != null && !closed) {
        socket.write(o);
      }
    }

    void onFrame(Buffer payload) {
      KvBinaryProtocol.Cursor in = new KvBinaryProtocol.Cursor(payload);
      long id = in.int64("id");
      int status = in.uint8("status");
      Call c = pending.remove(id);
      if (c == null) {
        return; // timed out already
      }
      try {
        answered(c, status, in, ep.address);
      } catch (IllegalArgumentException | ClassCastException e) {
        unknownOutcome(c, new KvClientException(0, "BAD_ANSWER", false, "malformed answer from "
            + ep.address + ": " + e.getMessage(), e));
      }
    }

    /** The connection is gone: what was sent has an unknown outcome. */
    void lost(String why) {
      if (closed) {
        return;
      }
      closed = true;
      ep.conns.remove(this);
      if (ep.address.equals(leader)) {
        leader = null;
      }
      List<Call> calls = new ArrayList<>(pending.values());
      pending.clear();
      for (Call c : calls) {
        unknownOutcome(c, new KvClientException(0, "CONNECTION_LOST", false, why
            + " before the answer", null));
      }
    }
  }
}
