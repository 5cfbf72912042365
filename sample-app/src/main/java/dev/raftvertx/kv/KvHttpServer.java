package dev.raftvertx.kv;

import dev.raftvertx.Committed;
import dev.raftvertx.RaftException;
import dev.raftvertx.RaftNode;
import dev.raftvertx.spi.TransportFaults;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * The HTTP API of one key-value node. Every node serves it; a follower forwards writes and
 * linearizable reads to the leader through Raft (no redirects).
 *
 * <ul>
 *   <li>{@code PUT /kv/{key}} (body = value): 200 {@code {"index": n}} once committed and applied
 *   <li>{@code GET /kv/{key}}: 200 with the value or 404; linearizable unless
 *       {@code ?consistency=stale}
 *   <li>{@code DELETE /kv/{key}}: 200 {@code {"index": n}}, or 404 if absent
 *   <li>{@code POST /kv/{key}/cas} with {@code {"expect": old-or-null, "value": new}}: 200
 *       {@code {"index": n}} when swapped, 409 {@code {"current": ...}} when not
 *   <li>{@code POST /sessions}: opens an exactly-once session, 200 {@code {"clientId": "..."}};
 *       writes with headers {@code Client-Id} and {@code Request-Id} (a per-client increasing
 *       integer) are applied once however often they are retried
 *   <li>{@code GET /status}, {@code GET /health}, {@code GET /ready}, {@code GET /metrics}: always
 *       open
 *   <li>admin, with {@code Authorization: Bearer <token>} (401 without): {@code POST
 *       /cluster/members} {@code {"id", "address"}} adds a voter (learner first, promoted once
 *       caught up; answers when it is a voter), {@code DELETE /cluster/members/{id}} removes one,
 *       {@code POST /cluster/leader} {@code {"id"}} transfers leadership. Call them on the leader
 *       (a follower answers 503 naming the leader). {@code POST /admin/faults} sets message-level
 *       faults on this node's outbound Raft traffic through its transport's
 *       {@link dev.raftvertx.spi.TransportFaults}: {@code {"drop": 0..1, "duplicate": 0..1,
 *       "delayMs": n, "delayMaxMs": m}}, every field optional and 0 when absent; each message is
 *       dropped with probability {@code drop}, sent twice with probability {@code duplicate},
 *       and held for a time drawn uniformly from [delayMs, max(delayMs, delayMaxMs)] (so
 *       messages overtake each other); delays at most 60000 ms. It answers 200 with the faults
 *       now set, 400 on bad JSON, an unknown field or a value out of range.
 *       {@code DELETE /admin/faults} clears every fault of the transport (partitions included).
 *       For tests (the Jepsen-style suite): it works inside TLS, where a proxy cannot.
 * </ul>
 * With a key-value token ({@link #kvToken}) the {@code /kv} and {@code /sessions} endpoints
 * require {@code Authorization: Bearer <token>} too, and answer 401 with
 * {@code WWW-Authenticate: Bearer realm="kv"} without it; by default they are open (a trusted
 * loopback setup). Tokens are compared through their SHA-256 digests with
 * {@link MessageDigest#isEqual}, so the comparison takes the same time whatever the guess.
 *
 * <p>Errors are JSON {@code {"error", "code", "outcome"}} where outcome is {@code not_applied} or
 * {@code unknown}: 400 malformed (a request that is not valid HTTP too; 414 and 431 for a request
 * line or headers too long), 401 no or wrong token, 410 session expired, 413 too large, 429 overloaded, 503 no
 * leader or no quorum in time.
 */
public final class KvHttpServer {

  /** Default for {@link #idleTimeoutSeconds}: a connection silent this long is closed. */
  public static final int DEFAULT_IDLE_TIMEOUT_SECONDS = 120;

  private final Vertx vertx;
  private final RaftNode node;
  private final int maxBodyBytes;
  private Handler<RoutingContext> metricsHandler;
  private int idleTimeoutSeconds = DEFAULT_IDLE_TIMEOUT_SECONDS;
  private final byte[] adminTokenDigest;
  private byte[] kvTokenDigest;

  /**
   * @param vertx the Vert.x instance
   * @param node the node this server fronts
   * @param maxBodyBytes largest request body accepted
   * @param adminToken the token the admin endpoints require
   */
  public KvHttpServer(Vertx vertx, RaftNode node, int maxBodyBytes, String adminToken) {
    this.vertx = vertx;
    this.node = node;
    this.maxBodyBytes = maxBodyBytes;
    if (adminToken == null || adminToken.isBlank()) {
      throw new IllegalArgumentException("an admin token is required");
    }
    this.adminTokenDigest = digest(adminToken);
  }

  /**
   * Requires a bearer token on the key-value API ({@code /kv/*} and {@code /sessions}); the
   * status, health, readiness and metrics endpoints stay open. Call before {@link #router()}.
   *
   * @param token the token, or null to leave the key-value API open (the default)
   * @return a reference to this, so the API can be used fluently
   * @throws IllegalArgumentException if the token is blank
   */
  public KvHttpServer kvToken(String token) {
    if (token != null && token.isBlank()) {
      throw new IllegalArgumentException("the key-value token must not be blank");
    }
    this.kvTokenDigest = token == null ? null : digest(token);
    return this;
  }

  /**
   * Closes a connection that neither sends nor receives anything for this long, so that idle or
   * stalled clients cannot hold connections open forever (HTTP clients reopen closed keep-alive
   * connections on their own).
   *
   * @param seconds the idle time, at least 1; default {@value #DEFAULT_IDLE_TIMEOUT_SECONDS}
   * @return a reference to this, so the API can be used fluently
   * @throws IllegalArgumentException if seconds is below 1
   */
  public KvHttpServer idleTimeoutSeconds(int seconds) {
    if (seconds < 1) {
      throw new IllegalArgumentException("the idle timeout must be at least 1 second");
    }
    this.idleTimeoutSeconds = seconds;
    return this;
  }

  /**
   * Serves {@code GET /metrics} with this handler (Prometheus scraping, say).
   *
   * @param handler the handler, or null for no metrics endpoint
   * @return a reference to this, so the API can be used fluently
   */
  public KvHttpServer metricsHandler(Handler<RoutingContext> handler) {
    this.metricsHandler = handler;
    return this;
  }

  /** @return a router with the API, for mounting or serving */
  public Router router() {
    Router router = Router.router(vertx);
    if (kvTokenDigest != null) {
      // before the body is read: a request without the token is not buffered
      router.route("/kv/*").handler(ctx -> requireToken(ctx, kvTokenDigest, "kv",
          "key-value token"));
      router.route("/sessions*").handler(ctx -> requireToken(ctx, kvTokenDigest, "kv",
          "key-value token"));
    }
    // before the body is read, as for the key-value token
    router.route("/admin/*").handler(ctx -> requireToken(ctx, adminTokenDigest, null,
        "admin token"));
    // The API reads raw bodies and JSON, never form attributes: not merging them into the
    // parameters keeps BodyHandler from decoding the query string when the request ends, where
    // a bad escape in it threw outside any handler and left the request unanswered for ever.
    BodyHandler bodies = BodyHandler.create().setBodyLimit(maxBodyBytes)
        .setHandleFileUploads(false).setMergeFormAttributes(false);
    router.route().handler(ctx -> {
      try {
        bodies.handle(ctx);
      } catch (IllegalStateException e) {
        // Vert.x refuses to decode a form body sent with another method than POST, PUT, PATCH
        // or DELETE (a GET with curl -d, say): the client's mistake, not a server error
        error(ctx, 400, "bad request: " + e.getMessage(), "BAD_REQUEST", "not_applied");
      }
    });
    router.put("/kv/:key").handler(this::put);
    router.get("/kv/:key").handler(this::get);
    router.delete("/kv/:key").handler(this::delete);
    router.post("/kv/:key/cas").handler(this::cas);
    router.post("/sessions").handler(this::openSession);
    router.route("/cluster/*").handler(ctx -> requireToken(ctx, adminTokenDigest, null,
        "admin token"));
    router.post("/cluster/members").handler(this::addMember);
    router.delete("/cluster/members/:id").handler(ctx -> admin(ctx,
        node.removeMember(ctx.pathParam("id")), new JsonObject().put("removed", ctx.pathParam("id"))));
    router.post("/cluster/leader").handler(ctx -> {
      JsonObject req = jsonBody(ctx);
      if (req == null || !(req.getValue("id") instanceof String id)) {
        error(ctx, 400, "expected JSON {\"id\": node id}", "BAD_REQUEST", "not_applied");
        return;
      }
      admin(ctx, node.transferLeadership(id), new JsonObject().put("leader", id));
    });
    router.post("/admin/faults").handler(this::setFaults);
    router.delete("/admin/faults").handler(ctx -> {
      TransportFaults faults = node.faults();
      if (faults == null) {
        error(ctx, 501, "this node's transport has no fault hook", "NOT_SUPPORTED", null);
        return;
      }
      faults.clearFaults();
      json(ctx, 200, new JsonObject().put("cleared", true));
    });
    router.get("/status").handler(ctx -> node.status().onComplete(ar -> {
      if (ar.succeeded()) {
        json(ctx, 200, ar.result().toJson());
      } else {
        fail(ctx, ar.cause());
      }
    }));
    router.get("/health").handler(ctx -> node.status().onComplete(ar -> {
      boolean up = ar.succeeded() && ar.result().error() == null;
      json(ctx, up ? 200 : 503, new JsonObject().put("status", up ? "UP" : "DOWN")
          .put("error", ar.succeeded() ? ar.result().error() : String.valueOf(ar.cause())));
    }));
    router.get("/ready").handler(ctx -> node.status().onComplete(ar -> {
      boolean ready = ar.succeeded() && ar.result().error() == null
          && ar.result().leaderId() != null;
      json(ctx, ready ? 200 : 503, new JsonObject().put("ready", ready)
          .put("leader", ar.succeeded() ? ar.result().leaderId() : null));
    }));
    if (metricsHandler != null) {
      router.get("/metrics").handler(metricsHandler);
    }
    router.route().last().handler(ctx -> error(ctx, 404, "no such endpoint: "
        + ctx.request().method() + " " + ctx.request().path(), null, null));
    // a path the router cannot even match (a bad percent-escape, say): Vert.x answers 400 itself,
    // here with the API's JSON error and without logging a stack trace per bad request
    router.errorHandler(400, ctx -> error(ctx, 400, "bad request: " + (ctx.failure() == null
        ? "malformed path or query" : ctx.failure().getMessage()), "BAD_REQUEST", "not_applied"));
    router.route().failureHandler(ctx -> {
      int status = ctx.statusCode() > 0 ? ctx.statusCode() : 500;
      error(ctx, status, status == 413 ? "request body too large" : "bad request: "
          + (ctx.failure() == null ? "status " + status : ctx.failure().getMessage()), null, null);
    });
    return router;
  }

  /**
   * Starts serving.
   *
   * @param host the bind address
   * @param port the port (0 for any free one)
   * @return the server once listening
   */
  public Future<HttpServer> listen(String host, int port) {
    return vertx.createHttpServer(new HttpServerOptions().setIdleTimeout(idleTimeoutSeconds))
        .invalidRequestHandler(KvHttpServer::invalidRequest)
        .requestHandler(router()).listen(port, host);
  }

  /**
   * Answers a request that is not valid HTTP as Vert.x's default does (414 for a request line
   * too long, 431 for headers too large, else 400, then the connection is closed), but with the
   * API's JSON error body saying what was wrong.
   *
   * @param request the request the HTTP decoder failed on
   */
  static void invalidRequest(HttpServerRequest request) {
    Throwable cause = request.decoderResult().cause();
    int status = cause instanceof TooLongHttpLineException ? 414
        : cause instanceof TooLongHttpHeaderException ? 431 : 400;
    String reason = status == 414 ? "request line (method, path and query) too long"
        : status == 431 ? "request headers too large"
        : "malformed HTTP request" + (cause == null || cause.getMessage() == null ? ""
            : ": " + cause.getMessage());
    request.response().setStatusCode(status).putHeader("Content-Type", "application/json")
        .putHeader("Connection", "close")
        .end(new JsonObject().put("error", reason).put("code", "BAD_REQUEST")
            .put("outcome", "not_applied").encode());
    request.connection().close();
  }

  /**
   * Lets the request through if it carries {@code Authorization: Bearer <token>} with the token
   * whose digest is expected; answers 401 otherwise.
   *
   * @param realm the realm named in the challenge, or null for a bare {@code Bearer} challenge
   * @param what the token's name, for the error message
   */
  private static void requireToken(RoutingContext ctx, byte[] expectedDigest, String realm,
      String what) {
    String auth = ctx.request().getHeader("Authorization");
    boolean bearer = auth != null && auth.regionMatches(true, 0, "Bearer ", 0, 7);
    // digests of equal length: the comparison's time tells nothing about the token
    if (bearer && MessageDigest.isEqual(digest(auth.substring(7).trim()), expectedDigest)) {
      ctx.next();
      return;
    }
    // RFC 6750 §3; the admin endpoints keep the bare challenge they always answered
    ctx.response().putHeader("WWW-Authenticate", realm == null ? "Bearer"
        : "Bearer realm=\"" + realm + "\"" + (auth == null ? ""
        : bearer ? ", error=\"invalid_token\"" : ", error=\"invalid_request\""));
    error(ctx, 401, auth == null ? what + " required: Authorization: Bearer <token>"
        : bearer ? "wrong " + what : "expected Authorization: Bearer <" + what + ">",
        "UNAUTHORIZED", "not_applied");
  }

  private static byte[] digest(String token) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e); // required by Java SE
    }
  }

  private void addMember(RoutingContext ctx) {
    JsonObject req = jsonBody(ctx);
    if (req == null || !(req.getValue("id") instanceof String id)
        || !id.matches("[A-Za-z0-9_-]+") || !(req.getValue("address") instanceof String address)
        || !address.matches("[^:\\s]+:\\d{1,5}")) {
      error(ctx, 400, "expected JSON {\"id\": node id, \"address\": \"host:port\"}",
          "BAD_REQUEST", "not_applied");
      return;
    }
    admin(ctx, node.addVoter(id, address), new JsonObject().put("added", id));
  }

  /** Largest delay {@code POST /admin/faults} accepts, in milliseconds. */
  static final long MAX_FAULT_DELAY_MILLIS = 60_000;

  private static final java.util.Set<String> FAULT_FIELDS =
      java.util.Set.of("drop", "duplicate", "delayMs", "delayMaxMs");

  private void setFaults(RoutingContext ctx) {
    TransportFaults faults = node.faults();
    if (faults == null) {
      error(ctx, 501, "this node's transport has no fault hook", "NOT_SUPPORTED", null);
      return;
    }
    JsonObject req = jsonBody(ctx);
    String usage = "expected JSON {\"drop\": 0..1, \"duplicate\": 0..1, \"delayMs\": 0.."
        + MAX_FAULT_DELAY_MILLIS + ", \"delayMaxMs\": 0.." + MAX_FAULT_DELAY_MILLIS
        + "}, every field optional";
    if (req == null) {
      error(ctx, 400, usage, "BAD_REQUEST", "not_applied");
      return;
    }
    for (String field : req.fieldNames()) {
      if (!FAULT_FIELDS.contains(field)) {
        error(ctx, 400, "unknown field '" + field + "'; " + usage, "BAD_REQUEST", "not_applied");
        return;
      }
    }
    double drop;
    double duplicate;
    long delay;
    long delayMax;
    try {
      drop = fraction(req, "drop");
      duplicate = fraction(req, "duplicate");
      delay = millis(req, "delayMs");
      delayMax = millis(req, "delayMaxMs");
    } catch (IllegalArgumentException e) {
      error(ctx, 400, e.getMessage() + "; " + usage, "BAD_REQUEST", "not_applied");
      return;
    }
    long jitter = Math.max(0, delayMax - delay);
    faults.dropFraction(drop);
    faults.duplicateFraction(duplicate);
    faults.delayMillis(delay);
    faults.delayJitterMillis(jitter);
    json(ctx, 200, new JsonObject().put("drop", drop).put("duplicate", duplicate)
        .put("delayMs", delay).put("delayMaxMs", delay + jitter));
  }

  private static double fraction(JsonObject req, String field) {
    Object v = req.getValue(field);
    if (v == null) {
      return 0;
    }
    if (!(v instanceof Number n) || !(n.doubleValue() >= 0 && n.doubleValue() <= 1)) {
      throw new IllegalArgumentException("'" + field + "' must be a number within [0, 1]: " + v);
    }
    return n.doubleValue();
  }

  private static long millis(JsonObject req, String field) {
    Object v = req.getValue(field);
    if (v == null) {
      return 0;
    }
    if (!(v instanceof Number n) || n.doubleValue() != Math.rint(n.doubleValue())
        || n.doubleValue() < 0 || n.doubleValue() > MAX_FAULT_DELAY_MILLIS) {
      throw new IllegalArgumentException("'" + field + "' must be a whole number of milliseconds"
          + " within [0, " + MAX_FAULT_DELAY_MILLIS + "]: " + v);
    }
    return n.longValue();
  }

  private void admin(RoutingContext ctx, Future<Void> f, JsonObject answer) {
    f.compose(v -> node.status()).onSuccess(st -> json(ctx, 200, answer
        .put("configuration", st.toJson().getJsonObject("configuration"))))
        .onFailure(e -> fail(ctx, e));
  }

  private static JsonObject jsonBody(RoutingContext ctx) {
    try {
      Buffer body = ctx.body().buffer();
      return body == null || body.length() == 0 ? null : new JsonObject(body);
    } catch (DecodeException e) {
      return null;
    }
  }

  private void put(RoutingContext ctx) {
    Buffer body = ctx.body().buffer();
    if (body == null) {
      error(ctx, 400, "the body must be the value", "BAD_REQUEST", "not_applied");
      return;
    }
    write(ctx, new KvCommand.Put(ctx.pathParam("key"), body.toString()))
        .onSuccess(c -> json(ctx, 200, new JsonObject().put("index", c.index())));
  }

  private void delete(RoutingContext ctx) {
    write(ctx, new KvCommand.Delete(ctx.pathParam("key"))).onSuccess(c -> {
      boolean deleted = KvCodec.deleted(c.result());
      json(ctx, deleted ? 200 : 404, new JsonObject().put("index", c.index())
          .put("deleted", deleted));
    });
  }

  private void cas(RoutingContext ctx) {
    JsonObject req;
    try {
      Buffer body = ctx.body().buffer();
      req = body == null ? null : new JsonObject(body);
    } catch (DecodeException e) {
      req = null;
    }
    if (req == null || !(req.getValue("value") instanceof String)
        || (req.getValue("expect") != null && !(req.getValue("expect") instanceof String))
        || !req.containsKey("expect")) {
      error(ctx, 400, "expected JSON {\"expect\": string or null, \"value\": string}",
          "BAD_REQUEST", "not_applied");
      return;
    }
    write(ctx, new KvCommand.CompareAndSet(ctx.pathParam("key"), req.getString("expect"),
        req.getString("value"))).onSuccess(c -> {
          KvCodec.CasOutcome r = KvCodec.CasOutcome.of(c.result());
          if (r.swapped()) {
            json(ctx, 200, new JsonObject().put("index", c.index()));
          } else {
            json(ctx, 409, new JsonObject().put("current", r.current())
                .put("index", c.index()));
          }
        });
  }

  private void get(RoutingContext ctx) {
    String consistency = ctx.queryParams().get("consistency");
    if (consistency != null && !consistency.equals("stale")
        && !consistency.equals("linearizable")) {
      error(ctx, 400, "consistency must be 'linearizable' or 'stale'", "BAD_REQUEST", null);
      return;
    }
    Buffer q = KvCodec.query(ctx.pathParam("key"));
    Future<Buffer> f = "stale".equals(consistency) ? node.readLocal(q) : node.read(q);
    f.onSuccess(r -> {
      String value = KvCodec.value(r);
      if (value != null) {
        ctx.response().setStatusCode(200).putHeader("Content-Type", "text/plain; charset=utf-8")
            .end(value);
      } else {
        error(ctx, 404, "no such key", "NOT_FOUND", null);
      }
    }).onFailure(e -> fail(ctx, e));
  }

  private void openSession(RoutingContext ctx) {
    node.openSession()
        .onSuccess(id -> json(ctx, 200, new JsonObject().put("clientId", Long.toString(id))))
        .onFailure(e -> fail(ctx, e));
  }

  /** Proposes a write, with the request's session if it names one; failures are answered here. */
  private Future<Committed> write(RoutingContext ctx, KvCommand command) {
    String clientId = ctx.request().getHeader("Client-Id");
    String requestId = ctx.request().getHeader("Request-Id");
    Future<Committed> f;
    if (clientId == null && requestId == null) {
      f = node.propose(command.encode());
    } else {
      long session;
      long sequence;
      try {
        session = Long.parseLong(clientId);
        sequence = Long.parseLong(requestId);
        if (session <= 0 || sequence <= 0) {
          throw new NumberFormatException();
        }
      } catch (NumberFormatException | NullPointerException e) {
        error(ctx, 400, "Client-Id (from POST /sessions) and Request-Id must both be positive"
            + " integers", "BAD_REQUEST", "not_applied");
        return Future.failedFuture(e);
      }
      f = node.propose(session, sequence, command.encode());
    }
    return f.onFailure(e -> fail(ctx, e));
  }

  private static void fail(RoutingContext ctx, Throwable e) {
    if (e instanceof RaftException re) {
      int status = switch (re.error()) {
        case OVERLOADED -> 429;
        case TOO_LARGE -> 413;
        case SESSION_EXPIRED -> 410;
        case STALE_SEQUENCE, CHANGE_IN_PROGRESS, INVALID_CHANGE -> 409;
        default -> 503;
      };
      json(ctx, status, new JsonObject().put("error", re.getMessage()).put("code", re.error().name())
          .put("outcome", re.knownNotApplied() ? "not_applied" : "unknown")
          .put("leader", re.leaderHint()));
    } else if (e instanceof IllegalArgumentException) {
      error(ctx, 400, e.getMessage(), "BAD_REQUEST", "not_applied");
    } else {
      error(ctx, 500, String.valueOf(e), "INTERNAL", "unknown");
    }
  }

  private static void error(RoutingContext ctx, int status, String message, String code,
      String outcome) {
    JsonObject body = new JsonObject().put("error", message);
    if (code != null) {
      body.put("code", code);
    }
    if (outcome != null) {
      body.put("outcome", outcome);
    }
    json(ctx, status, body);
  }

  private static void json(RoutingContext ctx, int status, JsonObject body) {
    if (ctx.response().ended()) {
      return;
    }
    ctx.response().setStatusCode(status).putHeader("Content-Type", "application/json")
        .end(body.encode());
  }
}
