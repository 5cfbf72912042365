package dev.raftvertx.webui;

import dev.raftvertx.LogEntryInfo;
import dev.raftvertx.NodeStats;
import dev.raftvertx.NodeStatus;
import dev.raftvertx.RaftException;
import dev.raftvertx.RaftNode;
import dev.raftvertx.spi.TransportFaults;
import io.vertx.core.AsyncResult;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import io.vertx.ext.web.handler.StaticHandler;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * A live view of a raft-vertx cluster in the browser, and a remote control for it.
 *
 * <p>Mount it on your router in one call:
 * <pre>{@code
 * Router router = Router.router(vertx);
 * WebUi ui = WebUi.mount(router, vertx, nodes, new WebUiOptions().setAdminToken(token));
 * vertx.createHttpServer().requestHandler(router).listen(8080);
 * }</pre>
 * or under a path of your choice: {@code router.route("/raft/*").subRouter(WebUi.create(vertx,
 * nodes, options).router())}. The page and its script and style come from this jar (no CDN, no
 * network at run time); every URL they use is relative, so any mount point works.
 *
 * <p><b>Endpoints</b> (relative to the mount point):
 * <ul>
 *   <li>{@code GET /} the page; {@code GET /api/cluster} the whole picture as JSON (nodes, cluster,
 *       timeline, plot history): the first render needs nothing else.</li>
 *   <li>{@code GET /api/events} server-sent events: a {@code snapshot} event (the same JSON) on
 *       connect, then {@code update} events with the nodes that changed, new timeline entries and
 *       new plot points. Changes are coalesced into at most
 *       {@link WebUiOptions#getMaxPushesPerSecond()} pushes per second; a browser whose
 *       connection cannot keep up is skipped and sent a fresh snapshot once it drains. The
 *       browser never polls.</li>
 *   <li>Admin actions, {@code POST} with {@code Authorization: Bearer <token>}
 *       ({@link AdminAuthHandler}: 401 JSON without the right token, 403 when no token is
 *       configured): {@code /api/nodes/{id}/stop} and {@code /api/nodes/{id}/start} (needs a
 *       {@link NodeControl}), {@code /api/nodes/{id}/partition} (cuts the node off from every
 *       other through its transport's {@link TransportFaults}) and {@code /api/nodes/{id}/heal}
 *       (clears its faults), {@code /api/propose} with {@code {"value": "...", "node": optional
 *       id}} (encoded by {@link #commandEncoder}). Answers are JSON; errors are
 *       {@code {"error", "code"}}.</li>
 * </ul>
 * Membership, through the leader, with the same token: {@code POST /api/cluster/members} with
 * {@code {"id": "n4", "address": optional, "role": "voter" (default) or "learner"}} (with a
 * {@link NodeControl}, a node not running here is first started empty, waiting to be added),
 * {@code DELETE /api/cluster/members/{id}}, and {@code POST /api/cluster/leader} with
 * {@code {"id": "n2"}} to transfer leadership.
 *
 * <p><b>Where the data comes from:</b> each node's {@link RaftNode#status()},
 * {@link RaftNode#logTail(int, int)} and {@link RaftNode#stats()}. The events a node publishes on
 * the event bus (role, term, leader, commit) mark it changed; once a second the UI also samples
 * every node's {@link NodeStats} for the plots (commits per second, mean proposal latency,
 * elections) and to catch changes no event announces (appends not yet committed).
 *
 * <p><b>Threading:</b> the UI keeps its state on one Vert.x context (the caller's, or a new one);
 * every public method may be called from any thread.
 */
public final class WebUi {

  private static final System.Logger log = System.getLogger(WebUi.class.getName());
  private static final long COLLECT_TIMEOUT_MILLIS = 5_000;
  private static final long HEARTBEAT_MILLIS = 15_000;
  private static final int MAX_LABEL_CHARS = 60;

  private final Vertx vertx;
  private final Context context;
  private final WebUiOptions options;
  private final Router router;
  private final long pushIntervalMillis;

  // ---- state, confined to context ----
  private final Map<String, NodeEntry> nodes = new TreeMap<>();
  private final ArrayDeque<JsonObject> timeline = new ArrayDeque<>();
  private final ArrayDeque<JsonObject> series = new ArrayDeque<>();
  private final List<JsonObject> pendingTimeline = new ArrayList<>();
  private final List<JsonObject> pendingSeries = new ArrayList<>();
  private final Set<String> dirty = new TreeSet<>();
  private final Set<Client> clients = new LinkedHashSet<>();
  private long timelineSeq;
  private long lastMaxCommit = -1;
  private boolean flushScheduled;
  private boolean flushing;
  private long lastFlushMillis;
  private long samplerTimer = -1;
  private long heartbeatTimer = -1;
  private boolean closed;

  private volatile NodeControl control;
  private volatile Function<String, Buffer> encoder = value -> Buffer.buffer(value);
  private volatile Function<LogEntryInfo, String> formatter = WebUi::defaultLabel;

  /** What the UI knows of one node id. */
  private static final class NodeEntry {
    final String id;
    /** The node while it runs in this process, else null. */
    RaftNode node;
    /** running, stopping, stopped, starting, or remote (a member not in this process). */
    String state;
    JsonObject view;
    MessageConsumer<JsonObject> events;
    long prevProposals;
    long prevLatencyNanos;
    long prevElections;
    long seenLast = -1;
    long seenApplied = -1;
    long seenCommit = -1;
    long seenTerm = -1;

    NodeEntry(String id, String state) {
      this.id = id;
      this.state = state;
    }
  }

  /** One browser on the event stream. */
  private final class Client {
    final HttpServerResponse response;
    final Context context;
    /** Skipped by broadcasts until it is sent a fresh snapshot; read and written on the UI context. */
    boolean behind = true;
    volatile boolean closed;

    Client(HttpServerResponse response, Context context) {
      this.response = response;
      this.context = context;
    }

    /** Writes on the connection's own context; a full write queue puts the client behind. */
    void send(String frame) {
      context.runOnContext(v -> {
        if (closed || response.closed()) {
          return;
        }
        if (response.writeQueueFull()) {
          response.drainHandler(d -> {
            response.drainHandler(null);
            WebUi.this.context.runOnContext(x -> resync(this));
          });
          WebUi.this.context.runOnContext(x -> behind = true);
          return;
        }
        response.write(frame);
      });
    }
  }

  private WebUi(Vertx vertx, List<RaftNode> initial, WebUiOptions options) {
    this.vertx = Objects.requireNonNull(vertx, "vertx");
    this.options = new WebUiOptions(Objects.requireNonNull(options, "options"));
    this.options.validate();
    this.context = vertx.getOrCreateContext();
    this.pushIntervalMillis = Math.max(1, 1000 / this.options.getMaxPushesPerSecond());
    this.router = buildRouter();
    List<RaftNode> start = List.copyOf(initial);
    context.runOnContext(v -> {
      for (RaftNode n : start) {
        attach(n);
      }
      samplerTimer = vertx.setPeriodic(1000, t -> sample());
    });
  }

  /**
   * Creates the UI for these nodes; serve it with {@link #router()}.
   *
   * @param vertx the Vert.x instance the nodes run in
   * @param nodes the nodes of this process to show (more can be added with {@link #putNode})
   * @param options the options
   * @return the UI
   * @throws IllegalArgumentException if the options are invalid
   */
  public static WebUi create(Vertx vertx, List<RaftNode> nodes, WebUiOptions options) {
    return new WebUi(vertx, nodes, options);
  }

  /**
   * Creates the UI and mounts it at the root of your router: the page at {@code /}, the API under
   * {@code /api/}. Routes the UI does not serve fall through to the routes you add after it.
   *
   * @param router your router
   * @param vertx the Vert.x instance the nodes run in
   * @param nodes the nodes of this process to show
   * @param options the options
   * @return the UI, to add a {@link NodeControl}, a command encoder, or to close it
   */
  public static WebUi mount(Router router, Vertx vertx, List<RaftNode> nodes,
      WebUiOptions options) {
    WebUi ui = create(vertx, nodes, options);
    router.route("/*").subRouter(ui.router());
    return ui;
  }

  /** @return the UI's router (page, assets and API), to mount as a sub-router */
  public Router router() {
    return router;
  }

  /**
   * Lets the UI stop and restart nodes (the demo's buttons). Without it, stop and start answer
   * 501 and the page shows no such buttons.
   *
   * @param control the application's control of its embedded nodes, or null
   * @return a reference to this, so the API can be used fluently
   */
  public WebUi nodeControl(NodeControl control) {
    this.control = control;
    return this;
  }

  /**
   * Sets how the text typed into the page's propose box becomes a command for your state machine.
   * The default proposes the text's UTF-8 bytes. An {@link IllegalArgumentException} it throws is
   * answered with 400 and its message.
   *
   * @param encoder text to command
   * @return a reference to this, so the API can be used fluently
   */
  public WebUi commandEncoder(Function<String, Buffer> encoder) {
    this.encoder = Objects.requireNonNull(encoder, "encoder");
    return this;
  }

  /**
   * Sets how a log entry is labelled in the log views (its tooltip and, for the newest entries,
   * its text). The default shows a command's payload as text and names the other entry types.
   * Labels are cut to 60 characters.
   *
   * @param formatter entry to label; gets the first {@link WebUiOptions#getEntryPreviewBytes()}
   *     bytes of the payload
   * @return a reference to this, so the API can be used fluently
   */
  public WebUi commandFormatter(Function<LogEntryInfo, String> formatter) {
    this.formatter = Objects.requireNonNull(formatter, "formatter");
    return this;
  }

  /**
   * Shows a node (or replaces the node of the same id, after a restart).
   *
   * @param node a node running in this process
   * @return a reference to this, so the API can be used fluently
   */
  public WebUi putNode(RaftNode node) {
    Objects.requireNonNull(node, "node");
    context.runOnContext(v -> attach(node));
    return this;
  }

  /**
   * Marks a node as no longer running in this process (it stays on the page as stopped).
   *
   * @param nodeId the node id
   * @return a reference to this, so the API can be used fluently
   */
  public WebUi removeNode(String nodeId) {
    context.runOnContext(v -> {
      NodeEntry e = nodes.get(nodeId);
      if (e != null && e.node != null) {
        e.node = null;
        e.state = "stopped";
        markDirty(nodeId);
      }
    });
    return this;
  }

  /**
   * Stops pushing: ends every event stream and releases timers and event-bus consumers. The
   * routes stay mounted and answer 503.
   *
   * @return completes once released
   */
  public Future<Void> close() {
    Promise<Void> done = Promise.promise();
    context.runOnContext(v -> {
      closed = true;
      vertx.cancelTimer(samplerTimer);
      stopHeartbeat();
      List<Future<Void>> fs = new ArrayList<>();
      for (NodeEntry e : nodes.values()) {
        if (e.events != null) {
          fs.add(e.events.unregister());
          e.events = null;
        }
      }
      for (Client c : clients) {
        c.closed = true;
        c.context.runOnContext(x -> {
          if (!c.response.closed()) {
            c.response.end();
          }
        });
      }
      clients.clear();
      Future.join(fs).onComplete(ar -> done.complete());
    });
    return done.future();
  }

  // =====================================================================================
  // Routes
  // =====================================================================================

  private Router buildRouter() {
    Router r = Router.router(vertx);
    r.get("/api/cluster").handler(this::getCluster);
    r.get("/api/events").handler(this::events);
    r.post("/api/*").handler(AdminAuthHandler.create(options.getAdminToken()));
    r.post("/api/*").handler(BodyHandler.create().setBodyLimit(64 * 1024)
        .setHandleFileUploads(false));
    r.post("/api/nodes/:id/stop").handler(rc -> admin(rc, this::stop));
    r.post("/api/nodes/:id/start").handler(rc -> admin(rc, this::start));
    r.post("/api/nodes/:id/partition").handler(rc -> admin(rc, this::partition));
    r.post("/api/nodes/:id/heal").handler(rc -> admin(rc, this::heal));
    r.post("/api/propose").handler(this::propose);
    r.post("/api/cluster/members").handler(this::addMember);
    r.delete("/api/cluster/members/:id").handler(AdminAuthHandler.create(options.getAdminToken()))
        .handler(rc -> admin(rc, this::removeMember));
    r.post("/api/cluster/leader").handler(this::transferLeadership);
    r.route("/api/*").handler(rc -> json(rc, 404, error("no such endpoint: "
        + rc.request().method() + " " + rc.request().path(), "NOT_FOUND")));
    r.route("/api/*").failureHandler(rc -> {
      int status = rc.statusCode() > 0 ? rc.statusCode() : 500;
      json(rc, status, error(status == 413 ? "request body too large" : "bad request",
          status == 413 ? "TOO_LARGE" : "BAD_REQUEST"));
    });
    r.get("/").handler(this::pageHeaders);
    r.get("/index.html").handler(this::pageHeaders);
    r.get("/*").handler(StaticHandler.create("webroot/raft").setIndexPage("index.html")
        .setDefaultContentEncoding("UTF-8").setMaxAgeSeconds(300));
    return r;
  }

  private void pageHeaders(RoutingContext rc) {
    rc.response()
        .putHeader("Content-Security-Policy", "default-src 'self'; img-src 'self' data:;"
            + " style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'")
        .putHeader("X-Content-Type-Options", "nosniff")
        .putHeader("Referrer-Policy", "no-referrer")
        .putHeader("Cache-Control", "no-cache");
    rc.next();
  }

  private void getCluster(RoutingContext rc) {
    Context rcContext = Vertx.currentContext();
    onUi(() -> snapshot()).onComplete(ar -> rcContext.runOnContext(v -> {
      if (ar.succeeded()) {
        json(rc, 200, ar.result());
      } else {
        json(rc, 503, error(String.valueOf(ar.cause().getMessage()), "UNAVAILABLE"));
      }
    }));
  }

  private void events(RoutingContext rc) {
    HttpServerResponse response = rc.response();
    Context rcContext = Vertx.currentContext();
    context.runOnContext(v -> {
      if (closed || clients.size() >= options.getMaxClients()) {
        rcContext.runOnContext(x -> json(rc, 503, error(closed ? "the web UI is closed"
            : "too many event streams open", "UNAVAILABLE")));
        return;
      }
      Client c = new Client(response, rcContext);
      clients.add(c);
      startHeartbeat();
      rcContext.runOnContext(x -> {
        response.setChunked(true).setStatusCode(200)
            .putHeader("Content-Type", "text/event-stream; charset=utf-8")
            .putHeader("Cache-Control", "no-cache, no-store")
            .putHeader("X-Accel-Buffering", "no")
            .setWriteQueueMaxSize(1 << 20);
        Runnable gone = () -> {
          c.closed = true;
          context.runOnContext(y -> {
            clients.remove(c);
            if (clients.isEmpty()) {
              stopHeartbeat();
            }
          });
        };
        response.closeHandler(y -> gone.run());
        response.exceptionHandler(e -> gone.run());
        response.write("retry: 2000\n\n");
      });
      resync(c);
    });
  }

  /** Sends a client a fresh snapshot; broadcasts reach it again from then on. */
  private void resync(Client c) {
    snapshot().onComplete(ar -> {
      if (!clients.contains(c)) {
        return;
      }
      if (ar.failed()) {
        log.log(System.Logger.Level.WARNING, "web UI snapshot failed", ar.cause());
        return;
      }
      c.behind = false;
      c.send(frame("snapshot", ar.result()));
    });
  }

  private static String frame(String event, JsonObject data) {
    return "event: " + event + "\ndata: " + data.encode() + "\n\n";
  }

  private void startHeartbeat() {
    if (heartbeatTimer < 0) {
      heartbeatTimer = vertx.setPeriodic(HEARTBEAT_MILLIS, t -> {
        for (Client c : clients) {
          if (!c.behind) {
            c.send(": keep-alive\n\n");
          }
        }
      });
    }
  }

  private void stopHeartbeat() {
    if (heartbeatTimer >= 0) {
      vertx.cancelTimer(heartbeatTimer);
      heartbeatTimer = -1;
    }
  }

  // =====================================================================================
  // Admin actions (run on the UI context)
  // =====================================================================================

  /** An answer other than 200. */
  private static final class HttpError extends RuntimeException {
    final int status;
    final String code;

    HttpError(int status, String code, String message) {
      super(message, null, false, false);
      this.status = status;
      this.code = code;
    }
  }

  private void admin(RoutingContext rc, Function<String, Future<JsonObject>> action) {
    String id = rc.pathParam("id");
    Context rcContext = Vertx.currentContext();
    onUi(() -> action.apply(id)).onComplete(ar -> rcContext.runOnContext(v -> reply(rc, ar)));
  }

  private static void reply(RoutingContext rc, AsyncResult<JsonObject> ar) {
    if (ar.succeeded()) {
      json(rc, 200, ar.result());
      return;
    }
    Throwable e = ar.cause();
    if (e instanceof HttpError h) {
      json(rc, h.status, error(h.getMessage(), h.code));
    } else if (e instanceof RaftException re) {
      int status = switch (re.error()) {
        case OVERLOADED -> 429;
        case TOO_LARGE -> 413;
        case CHANGE_IN_PROGRESS -> 409;
        case INVALID_CHANGE -> 400;
        default -> 503;
      };
      json(rc, status, error(re.getMessage(), re.error().name())
          .put("outcome", re.knownNotApplied() ? "not_applied" : "unknown"));
    } else if (e instanceof IllegalArgumentException) {
      json(rc, 400, error(e.getMessage(), "BAD_REQUEST"));
    } else {
      json(rc, 500, error(String.valueOf(e), "INTERNAL"));
    }
  }

  private NodeEntry known(String id) {
    NodeEntry e = nodes.get(id);
    if (e == null || "remote".equals(e.state)) {
      throw new HttpError(404, "NOT_FOUND", "no node " + id + " in this process");
    }
    return e;
  }

  private RaftNode running(NodeEntry e) {
    if (e.node == null || !"running".equals(e.state)) {
      throw new HttpError(409, "NOT_RUNNING", "node " + e.id + " is not running (" + e.state
          + ")");
    }
    return e.node;
  }

  private NodeControl control() {
    NodeControl c = control;
    if (c == null) {
      throw new HttpError(501, "NOT_SUPPORTED",
          "this application does not let the web UI stop and start nodes");
    }
    return c;
  }

  private Future<JsonObject> stop(String id) {
    NodeEntry e = known(id);
    NodeControl c = control();
    RaftNode node = running(e);
    e.state = "stopping";
    markDirty(id);
    return ui(c.stop(id)).map(v -> {
      if (e.node == node) {
        e.node = null;
        e.state = "stopped";
      }
      action(id, "stopped");
      markDirty(id);
      return new JsonObject().put("node", id).put("state", e.state);
    }).recover(err -> {
      if (e.node == node && "stopping".equals(e.state)) {
        e.state = "running";
      }
      markDirty(id);
      return Future.failedFuture(err);
    });
  }

  private Future<JsonObject> start(String id) {
    NodeEntry e = known(id);
    NodeControl c = control();
    if (e.node != null || !"stopped".equals(e.state)) {
      throw new HttpError(409, "RUNNING", "node " + id + " is " + e.state);
    }
    e.state = "starting";
    markDirty(id);
    return ui(c.start(id)).map(node -> {
      attach(node);
      action(id, "restarted");
      return new JsonObject().put("node", id).put("state", "running");
    }).recover(err -> {
      if (e.node == null) {
        e.state = "stopped";
      }
      markDirty(id);
      return Future.failedFuture(err);
    });
  }

  private TransportFaults faults(RaftNode node) {
    TransportFaults f = node.faults();
    if (f == null) {
      throw new HttpError(501, "NOT_SUPPORTED", "node " + node.id()
          + "'s transport has no fault hook");
    }
    return f;
  }

  private Future<JsonObject> partition(String id) {
    RaftNode node = running(known(id));
    faults(node).partition(id);
    action(id, "partitioned away from every other node");
    markDirty(id);
    return Future.succeededFuture(new JsonObject().put("node", id).put("partitioned", true));
  }

  private Future<JsonObject> heal(String id) {
    RaftNode node = running(known(id));
    faults(node).clearFaults();
    action(id, "healed (faults cleared)");
    markDirty(id);
    return Future.succeededFuture(new JsonObject().put("node", id).put("partitioned", false));
  }

  private void propose(RoutingContext rc) {
    JsonObject body;
    try {
      body = rc.body().asJsonObject();
    } catch (DecodeException e) {
      body = null;
    }
    if (body == null || !(body.getValue("value") instanceof String)
        || (body.getValue("node") != null && !(body.getValue("node") instanceof String))) {
      json(rc, 400, error("expected JSON {\"value\": string, \"node\": optional node id}",
          "BAD_REQUEST"));
      return;
    }
    String value = body.getString("value");
    String via = body.getString("node");
    Context rcContext = Vertx.currentContext();
    onUi(() -> propose(value, via)).onComplete(ar -> rcContext.runOnContext(v -> reply(rc, ar)));
  }

  private Future<JsonObject> propose(String value, String via) {
    Buffer command = encoder.apply(value);
    RaftNode target;
    if (via != null) {
      target = running(known(via));
    } else {
      target = leaderNode();
    }
    return ui(target.propose(command)).map(c -> {
      action(target.id(), "proposed \"" + cut(value) + "\": committed at index " + c.index());
      markAllDirty();
      return new JsonObject().put("index", c.index()).put("node", target.id())
          .put("result", c.result() == null ? null : c.result().toString(StandardCharsets.UTF_8));
    });
  }

  private void addMember(RoutingContext rc) {
    JsonObject body = jsonBody(rc);
    if (body == null || !(body.getValue("id") instanceof String id) || id.isBlank()
        || body.getValue("address") != null && !(body.getValue("address") instanceof String)
        || !List.of("voter", "learner").contains(body.getString("role", "voter"))) {
      json(rc, 400, error("expected JSON {\"id\": string, \"address\": optional string,"
          + " \"role\": \"voter\" or \"learner\"}", "BAD_REQUEST"));
      return;
    }
    String address = body.getString("address", "local");
    boolean voter = "voter".equals(body.getString("role", "voter"));
    Context rcContext = Vertx.currentContext();
    onUi(() -> addMember(id, address, voter)).onComplete(ar -> rcContext.runOnContext(v ->
        reply(rc, ar)));
  }

  private Future<JsonObject> addMember(String id, String address, boolean voter) {
    RaftNode leader = runningLeader();
    NodeEntry e = nodes.get(id);
    NodeControl c = control;
    Future<Void> ready = Future.succeededFuture();
    if (c != null && (e == null || "remote".equals(e.state) || "stopped".equals(e.state))) {
      NodeEntry entry = nodes.computeIfAbsent(id, k -> new NodeEntry(k, "starting"));
      entry.state = "starting";
      markDirty(id);
      ready = ui(c.start(id)).map(node -> {
        attach(node);
        action(id, "started empty, waiting to be added");
        return null;
      });
    }
    return ready.compose(v -> {
      action(id, "being added as a " + (voter ? "voter" : "learner"));
      return ui(voter ? leader.addVoter(id, address) : leader.addLearner(id, address));
    }).map(v -> {
      action(id, "added as a " + (voter ? "voter" : "learner"));
      markAllDirty();
      return new JsonObject().put("added", id).put("role", voter ? "voter" : "learner");
    });
  }

  private Future<JsonObject> removeMember(String id) {
    RaftNode leader = runningLeader();
    action(id, "being removed");
    return ui(leader.removeMember(id)).map(v -> {
      action(id, "removed from the configuration");
      markAllDirty();
      return new JsonObject().put("removed", id);
    });
  }

  private void transferLeadership(RoutingContext rc) {
    JsonObject body = jsonBody(rc);
    if (body == null || !(body.getValue("id") instanceof String id) || id.isBlank()) {
      json(rc, 400, error("expected JSON {\"id\": the voter to hand leadership to}",
          "BAD_REQUEST"));
      return;
    }
    Context rcContext = Vertx.currentContext();
    onUi(() -> {
      RaftNode leader = runningLeader();
      action(id, "leadership transfer from " + leader.id() + " requested");
      return ui(leader.transferLeadership(id)).map(v -> {
        markAllDirty();
        return new JsonObject().put("leader", id);
      });
    }).onComplete(ar -> rcContext.runOnContext(v -> reply(rc, ar)));
  }

  private static JsonObject jsonBody(RoutingContext rc) {
    try {
      return rc.body().asJsonObject();
    } catch (DecodeException | ClassCastException e) {
      return null;
    }
  }

  private void markAllDirty() {
    for (NodeEntry e : nodes.values()) {
      if (e.node != null) {
        markDirty(e.id);
      }
    }
  }

  /** @return the running leader of the highest term (membership changes go through it) */
  private RaftNode runningLeader() {
    RaftNode l = leaderNode();
    NodeEntry e = nodes.get(l.id());
    if (e == null || e.view == null || !"leader".equals(e.view.getString("role"))) {
      throw new HttpError(503, "NO_LEADER", "no leader is running in this process");
    }
    return l;
  }

  /** @return the running leader of the highest term, else any running node (it forwards) */
  private RaftNode leaderNode() {
    RaftNode best = null;
    long bestTerm = -1;
    RaftNode any = null;
    for (NodeEntry e : nodes.values()) {
      if (e.node == null || !"running".equals(e.state)) {
        continue;
      }
      if (any == null) {
        any = e.node;
      }
      if (e.view != null && "leader".equals(e.view.getString("role"))
          && e.view.getLong("term", -1L) > bestTerm) {
        best = e.node;
        bestTerm = e.view.getLong("term");
      }
    }
    if (best != null) {
      return best;
    }
    if (any == null) {
      throw new HttpError(503, "NO_NODE", "no node is running in this process");
    }
    return any;
  }

  // =====================================================================================
  // Model (UI context)
  // =====================================================================================

  private void attach(RaftNode node) {
    NodeEntry e = nodes.computeIfAbsent(node.id(), id -> new NodeEntry(id, "running"));
    e.node = node;
    e.state = "running";
    NodeStats s = node.stats();
    e.prevProposals = s.proposalsCommitted();
    e.prevLatencyNanos = s.proposalLatencyNanos();
    e.prevElections = s.electionsStarted();
    collect(e).onComplete(ar -> {
      if (ar.succeeded()) {
        apply(e, node, ar.result());
      }
      markDirty(e.id);
    });
  }

  private void subscribe(NodeEntry e, String clusterId) {
    if (e.events != null || clusterId == null || closed) {
      return;
    }
    String address = "raft." + clusterId + "." + e.id + ".events";
    e.events = vertx.eventBus().localConsumer(address, m -> onEvent(e, m.body()));
  }

  private void onEvent(NodeEntry e, JsonObject event) {
    if (closed) {
      return;
    }
    String type = event.getString("type");
    if (!"commit".equals(type)) {
      addTimeline(new JsonObject().put("time", event.getLong("time")).put("node", e.id)
          .put("type", type).put("role", event.getString("role"))
          .put("term", event.getLong("term")).put("leader", event.getString("leaderId")));
    }
    markDirty(e.id);
  }

  private void action(String node, String text) {
    addTimeline(new JsonObject().put("time", System.currentTimeMillis()).put("node", node)
        .put("type", "action").put("text", text));
  }

  private void addTimeline(JsonObject item) {
    item.put("seq", ++timelineSeq);
    timeline.addLast(item);
    while (timeline.size() > options.getTimelineEvents()) {
      timeline.removeFirst();
    }
    if (!clients.isEmpty()) {
      pendingTimeline.add(item);
      scheduleFlush();
    }
  }

  private void markDirty(String id) {
    dirty.add(id);
    scheduleFlush();
  }

  /** Once a second: a plot point, and a check for changes that no event announced. */
  private void sample() {
    if (closed) {
      return;
    }
    long maxCommit = -1;
    long proposals = 0;
    long latency = 0;
    long elections = 0;
    for (NodeEntry e : nodes.values()) {
      if (e.node == null) {
        continue;
      }
      NodeStats s = e.node.stats();
      maxCommit = Math.max(maxCommit, s.commitIndex());
      long p = s.proposalsCommitted();
      long l = s.proposalLatencyNanos();
      long el = s.electionsStarted();
      proposals += p - e.prevProposals;
      latency += l - e.prevLatencyNanos;
      elections += el - e.prevElections;
      e.prevProposals = p;
      e.prevLatencyNanos = l;
      e.prevElections = el;
      if (s.lastIndex() != e.seenLast || s.appliedIndex() != e.seenApplied
          || s.commitIndex() != e.seenCommit || s.term() != e.seenTerm) {
        dirty.add(e.id);
      }
    }
    long commits = lastMaxCommit < 0 || maxCommit < 0 ? 0 : Math.max(0, maxCommit - lastMaxCommit);
    if (maxCommit >= 0) {
      lastMaxCommit = maxCommit;
    }
    JsonObject point = new JsonObject().put("time", System.currentTimeMillis())
        .put("commits", commits).put("proposals", proposals)
        .put("latencyMs", proposals > 0 ? Math.round(latency / 1e3 / proposals) / 1e3 : null)
        .put("elections", elections);
    series.addLast(point);
    while (series.size() > options.getHistorySeconds()) {
      series.removeFirst();
    }
    if (!clients.isEmpty()) {
      pendingSeries.add(point);
      scheduleFlush();
    }
  }

  private void scheduleFlush() {
    if (closed || clients.isEmpty() || flushScheduled || flushing) {
      return;
    }
    flushScheduled = true;
    long delay = Math.max(1, lastFlushMillis + pushIntervalMillis - System.currentTimeMillis());
    vertx.setTimer(delay, t -> flush());
  }

  /** Collects the changed nodes and pushes one update to every browser that keeps up. */
  private void flush() {
    flushScheduled = false;
    if (closed) {
      return;
    }
    if (clients.isEmpty()) {
      dirty.clear();
      pendingTimeline.clear();
      pendingSeries.clear();
      return;
    }
    flushing = true;
    lastFlushMillis = System.currentTimeMillis();
    List<NodeEntry> changed = new ArrayList<>();
    for (String id : dirty) {
      NodeEntry e = nodes.get(id);
      if (e != null) {
        changed.add(e);
      }
    }
    dirty.clear();
    collectAll(changed).onComplete(ar -> {
      flushing = false;
      JsonArray views = new JsonArray();
      for (NodeEntry e : changed) {
        if (e.view != null) {
          views.add(e.view);
        }
      }
      addRemoteMembers(views);
      if (!views.isEmpty() || !pendingTimeline.isEmpty() || !pendingSeries.isEmpty()) {
        JsonObject update = new JsonObject().put("type", "update")
            .put("time", System.currentTimeMillis()).put("cluster", cluster()).put("nodes", views)
            .put("admin", adminInfo())
            .put("timeline", new JsonArray(new ArrayList<>(pendingTimeline)))
            .put("series", new JsonArray(new ArrayList<>(pendingSeries)));
        pendingTimeline.clear();
        pendingSeries.clear();
        String frame = frame("update", update);
        for (Client c : clients) {
          if (!c.behind) {
            c.send(frame);
          }
        }
      }
      if (!dirty.isEmpty()) {
        scheduleFlush();
      }
    });
  }

  /** Collects every listed node; completes on the UI context once all answered or timed out. */
  private Future<Void> collectAll(Collection<NodeEntry> entries) {
    List<Future<?>> fs = new ArrayList<>();
    for (NodeEntry e : entries) {
      RaftNode node = e.node;
      fs.add(collect(e).andThen(ar -> {
        if (ar.succeeded()) {
          apply(e, node, ar.result());
        }
      }));
    }
    return fs.isEmpty() ? Future.succeededFuture() : Future.join(fs).<Void>mapEmpty()
        .otherwiseEmpty();
  }

  /** Stores a collected view unless the node was replaced or stopped meanwhile. */
  private void apply(NodeEntry e, RaftNode collectedFrom, JsonObject view) {
    if (e.node != collectedFrom) {
      return;
    }
    e.view = view;
    e.seenLast = view.getLong("lastIndex", -1L);
    e.seenApplied = view.getLong("lastApplied", -1L);
    e.seenCommit = view.getLong("commitIndex", -1L);
    e.seenTerm = view.getLong("term", -1L);
    subscribe(e, view.getString("clusterId"));
  }

  /**
   * @return on the UI context, the node's view: fresh from the node while it runs, else the last
   *     one with its current state
   */
  private Future<JsonObject> collect(NodeEntry e) {
    RaftNode node = e.node;
    if (node == null || !"running".equals(e.state) && !"stopping".equals(e.state)) {
      return Future.succeededFuture(notRunningView(e));
    }
    Future<NodeStatus> status = node.status();
    Future<List<LogEntryInfo>> tail = node.logTail(options.getLogTailEntries(),
        options.getEntryPreviewBytes());
    return ui(Future.all(status, tail).timeout(COLLECT_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS))
        .map(cf -> view(e, node, status.result(), tail.result()));
  }

  private JsonObject notRunningView(NodeEntry e) {
    JsonObject v = e.view == null ? new JsonObject().put("id", e.id) : e.view.copy();
    v.put("state", e.state).put("partitioned", false).put("updated", System.currentTimeMillis());
    if (e.view != null) {
      e.view = v;
    }
    return v;
  }

  private JsonObject view(NodeEntry e, RaftNode node, NodeStatus s, List<LogEntryInfo> tail) {
    JsonArray entries = new JsonArray();
    Function<LogEntryInfo, String> f = formatter;
    for (LogEntryInfo i : tail) {
      String label;
      try {
        label = f.apply(i);
      } catch (RuntimeException ex) {
        label = defaultLabel(i);
      }
      entries.add(new JsonObject().put("i", i.index()).put("t", i.term()).put("k", i.type())
          .put("x", cut(label)));
    }
    TransportFaults faults = node.faults();
    NodeStats st = node.stats();
    JsonObject v = s.toJson();
    v.put("state", e.state)
        .put("logEntries", s.lastIndex() - s.snapshotIndex())
        .put("logBytes", st.logBytes())
        .put("faults", faults != null)
        .put("partitioned", faults != null && faults.partitionedNodes().contains(s.id()))
        .put("tail", entries)
        .put("counters", new JsonObject()
            .put("electionsStarted", st.electionsStarted())
            .put("electionsWon", st.electionsWon())
            .put("proposalsCommitted", st.proposalsCommitted())
            .put("proposalsFailed", st.proposalsFailed())
            .put("appendEntriesSent", st.appendEntriesSent())
            .put("appendEntriesRejected", st.appendEntriesRejected()))
        .put("updated", System.currentTimeMillis());
    return v;
  }

  /** Members named in a configuration but not in this process get a placeholder entry. */
  private void addRemoteMembers(JsonArray views) {
    Set<String> members = new TreeSet<>();
    for (NodeEntry e : nodes.values()) {
      JsonObject conf = e.view == null ? null : e.view.getJsonObject("configuration");
      if (conf != null && "running".equals(e.state)) {
        for (String k : List.of("voters", "outgoingVoters", "learners")) {
          conf.getJsonArray(k, new JsonArray()).forEach(m -> members.add((String) m));
        }
      }
    }
    for (String m : members) {
      if (!nodes.containsKey(m)) {
        NodeEntry r = new NodeEntry(m, "remote");
        r.view = new JsonObject().put("id", m).put("state", "remote");
        nodes.put(m, r);
        if (views != null) {
          views.add(r.view);
        }
      }
    }
  }

  private JsonObject cluster() {
    JsonObject leader = null;
    JsonObject newest = null;
    for (NodeEntry e : nodes.values()) {
      JsonObject v = e.view;
      if (v == null || !v.containsKey("term")) {
        continue;
      }
      if ("running".equals(e.state) && "leader".equals(v.getString("role"))
          && (leader == null || v.getLong("term") > leader.getLong("term"))) {
        leader = v;
      }
      if (newest == null || v.getLong("term") > newest.getLong("term")) {
        newest = v;
      }
    }
    JsonObject source = leader != null ? leader : newest;
    JsonObject conf = source == null ? null : source.getJsonObject("configuration");
    JsonObject out = new JsonObject()
        .put("leader", leader == null ? null : leader.getString("id"))
        .put("term", newest == null ? 0 : newest.getLong("term"))
        .put("commitIndex", source == null ? 0 : source.getLong("commitIndex"));
    if (conf != null) {
      out.put("configuration", conf.copy().put("joint",
          !conf.getJsonArray("outgoingVoters", new JsonArray()).isEmpty()));
    }
    return out;
  }

  private JsonObject adminInfo() {
    return new JsonObject()
        .put("tokenConfigured", options.getAdminToken() != null
            && !options.getAdminToken().isBlank())
        .put("nodeControl", control != null);
  }

  /** @return on the UI context, the whole picture, every running node freshly collected */
  private Future<JsonObject> snapshot() {
    return collectAll(new ArrayList<>(nodes.values())).map(v -> {
      addRemoteMembers(null);
      JsonArray views = new JsonArray();
      for (NodeEntry e : nodes.values()) {
        views.add(e.view != null ? e.view : new JsonObject().put("id", e.id).put("state", e.state));
      }
      return new JsonObject().put("type", "snapshot").put("time", System.currentTimeMillis())
          .put("cluster", cluster()).put("nodes", views)
          .put("timeline", new JsonArray(new ArrayList<>(timeline)))
          .put("series", new JsonArray(new ArrayList<>(series)))
          .put("admin", adminInfo())
          .put("options", new JsonObject()
              .put("logTailEntries", options.getLogTailEntries())
              .put("maxPushesPerSecond", options.getMaxPushesPerSecond())
              .put("historySeconds", options.getHistorySeconds())
              .put("proposeHint", options.getProposeHint()));
    });
  }

  // =====================================================================================
  // Helpers
  // =====================================================================================

  /** Runs an action on the UI context; the returned future completes there. */
  private <T> Future<T> onUi(java.util.function.Supplier<Future<T>> action) {
    Promise<T> p = Promise.promise();
    context.runOnContext(v -> {
      if (closed) {
        p.fail(new HttpError(503, "CLOSED", "the web UI is closed"));
        return;
      }
      try {
        action.get().onComplete(p);
      } catch (RuntimeException e) {
        p.fail(e);
      }
    });
    return p.future();
  }

  /** @return a future completing on the UI context with f's outcome */
  private <T> Future<T> ui(Future<T> f) {
    Promise<T> p = Promise.promise();
    f.onComplete(ar -> context.runOnContext(v -> p.handle(ar)));
    return p.future();
  }

  private static JsonObject error(String message, String code) {
    return new JsonObject().put("error", message).put("code", code);
  }

  private static void json(RoutingContext rc, int status, JsonObject body) {
    if (rc.response().ended() || rc.response().closed()) {
      return;
    }
    rc.response().setStatusCode(status).putHeader("Content-Type", "application/json")
        .putHeader("Cache-Control", "no-store").end(body.encode());
  }

  private static String cut(String s) {
    if (s == null) {
      return "";
    }
    return s.length() <= MAX_LABEL_CHARS ? s : s.substring(0, MAX_LABEL_CHARS - 1) + "\u2026";
  }

  /**
   * The default label of a log entry: a command's payload as text (control characters shown as
   * dots), the kind of any other entry.
   *
   * @param e the entry
   * @return its label
   */
  public static String defaultLabel(LogEntryInfo e) {
    switch (e.type()) {
      case "noop":
        return "no-op of a new leader";
      case "config":
        return "configuration";
      case "session_open":
        return "open session";
      default:
        break;
    }
    String text = e.data().toString(StandardCharsets.UTF_8);
    StringBuilder b = new StringBuilder(text.length() + 1);
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      b.append(Character.isISOControl(c) ? '\u00b7' : c);
    }
    if (!e.complete()) {
      b.append('\u2026');
    }
    return b.toString();
  }
}
