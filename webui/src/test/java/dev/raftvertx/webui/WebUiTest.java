package dev.raftvertx.webui;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.raftvertx.RaftNode;
import dev.raftvertx.RaftOptions;
import dev.raftvertx.StateMachine;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.parsetools.RecordParser;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.junit5.VertxExtension;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The web UI's HTTP side against a real cluster: the page from the jar, the cluster JSON, the
 * event stream (snapshot, coalesced pushes, unregistering), and the admin actions with their
 * token checks.
 */
@ExtendWith(VertxExtension.class)
class WebUiTest {

  static final String TOKEN = "test-token-123";

  @TempDir
  Path dir;
  Vertx vertx;
  WebClient client;
  final Map<String, RaftNode> nodes = new ConcurrentHashMap<>();
  final Map<String, RaftOptions> options = new LinkedHashMap<>();
  WebUi ui;
  HttpServer server;
  int port;

  /** Counts applied commands; answers queries with the count. */
  static final class Counter implements StateMachine {
    long applied;

    @Override
    public Buffer apply(long index, Buffer command) {
      applied++;
      return Buffer.buffer("ok:" + command);
    }

    @Override
    public Buffer query(Buffer query) {
      return Buffer.buffer(Long.toString(applied));
    }
  }

  static <T> T await(Future<T> f) {
    try {
      return f.await(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new AssertionError("failed: " + (f.cause() != null ? f.cause() : e), e);
    }
  }

  @BeforeEach
  void setUp(Vertx vertx) {
    this.vertx = vertx;
    this.client = WebClient.create(vertx);
  }

  @AfterEach
  void tearDown() {
    if (ui != null) {
      await(ui.close());
    }
    if (server != null) {
      await(server.close());
    }
    for (RaftNode n : nodes.values()) {
      await(n.close());
    }
  }

  void startCluster(int size, WebUiOptions uiOptions) {
    Map<String, String> peers = new LinkedHashMap<>();
    for (int i = 1; i <= size; i++) {
      peers.put("n" + i, "local");
    }
    List<RaftNode> list = new ArrayList<>();
    for (String id : peers.keySet()) {
      RaftOptions o = new RaftOptions().setNodeId(id).setClusterId("ui").setPeers(peers)
          .setDataDir(dir.resolve(id).toString()).setRequestTimeoutMillis(3_000);
      options.put(id, o);
      RaftNode n = await(RaftNode.deploy(vertx, o, new Counter()));
      nodes.put(id, n);
      list.add(n);
    }
    Router router = Router.router(vertx);
    ui = WebUi.mount(router, vertx, list, uiOptions);
    router.get("/after").handler(rc -> rc.response().end("after"));
    server = await(vertx.createHttpServer().requestHandler(router).listen(0, "127.0.0.1"));
    port = server.actualPort();
  }

  HttpResponse<Buffer> get(String path) {
    return await(client.get(port, "127.0.0.1", path).send());
  }

  HttpResponse<Buffer> post(String path, String token, JsonObject body) {
    var req = client.post(port, "127.0.0.1", path);
    if (token != null) {
      req.putHeader("Authorization", "Bearer " + token);
    }
    return await(body == null ? req.send() : req.sendJsonObject(body));
  }

  void eventually(String what, BooleanSupplier ok) {
    long deadline = System.currentTimeMillis() + 30_000;
    while (!ok.getAsBoolean()) {
      if (System.currentTimeMillis() > deadline) {
        throw new AssertionError("not within 30 s: " + what);
      }
      await(Future.future(p -> vertx.setTimer(50, t -> p.complete())));
    }
  }

  JsonObject cluster() {
    HttpResponse<Buffer> r = get("/api/cluster");
    assertEquals(200, r.statusCode(), r.bodyAsString());
    return r.bodyAsJsonObject();
  }

  JsonObject node(JsonObject cluster, String id) {
    for (Object o : cluster.getJsonArray("nodes")) {
      JsonObject n = (JsonObject) o;
      if (id.equals(n.getString("id"))) {
        return n;
      }
    }
    return null;
  }

  String awaitLeader() {
    String[] leader = new String[1];
    eventually("one leader", () -> {
      JsonObject c = cluster();
      leader[0] = c.getJsonObject("cluster").getString("leader");
      return leader[0] != null;
    });
    return leader[0];
  }

  /** A server-sent event stream, parsed. */
  final class Stream {
    final List<JsonObject> events = new CopyOnWriteArrayList<>();
    final List<Long> arrivals = new CopyOnWriteArrayList<>();
    HttpClient http;
    HttpClientResponse response;

    Stream open() {
      assertTrue(tryOpen(), "event stream refused: " + response.statusCode());
      return this;
    }

    /** @return true if the stream opened, false if refused (503) */
    boolean tryOpen() {
      http = vertx.createHttpClient();
      response = await(http.request(new RequestOptions().setMethod(HttpMethod.GET)
          .setHost("127.0.0.1").setPort(port).setURI("/api/events"))
          // Paused until the handler is set on this thread: no chunk is lost in between.
          .compose(req -> req.send().onSuccess(HttpClientResponse::pause)));
      if (response.statusCode() != 200) {
        await(http.close());
        return false;
      }
      assertTrue(response.getHeader("Content-Type").startsWith("text/event-stream"));
      response.handler(RecordParser.newDelimited("\n\n", record -> {
        String event = null;
        StringBuilder data = new StringBuilder();
        for (String line : record.toString(StandardCharsets.UTF_8).split("\n")) {
          if (line.startsWith("event: ")) {
            event = line.substring(7);
          } else if (line.startsWith("data: ")) {
            data.append(line.substring(6));
          }
        }
        if (event != null) {
          events.add(new JsonObject(data.toString()).put("_event", event));
          arrivals.add(System.currentTimeMillis());
        }
      }));
      response.resume();
      return true;
    }

    void close() {
      await(http.close());
    }
  }

  @Test
  void servesThePageFromTheJarAndTheClusterAsJson() {
    startCluster(3, new WebUiOptions().setAdminToken(TOKEN));
    HttpResponse<Buffer> page = get("/");
    assertEquals(200, page.statusCode());
    assertTrue(page.bodyAsString().contains("<script src=\"app.js\""), page.bodyAsString());
    assertTrue(page.getHeader("Content-Security-Policy").contains("default-src 'self'"));
    assertEquals(200, get("/app.js").statusCode());
    assertEquals(200, get("/style.css").statusCode());
    assertEquals("after", get("/after").bodyAsString(), "routes after the UI still work");
    assertEquals(404, get("/api/nope").statusCode());

    String leader = awaitLeader();
    JsonObject c = cluster();
    assertEquals("snapshot", c.getString("type"));
    assertEquals(3, c.getJsonArray("nodes").size());
    JsonObject conf = c.getJsonObject("cluster").getJsonObject("configuration");
    assertEquals(new JsonArray(List.of("n1", "n2", "n3")), conf.getJsonArray("voters"));
    assertFalse(conf.getBoolean("joint"));
    JsonObject l = node(c, leader);
    assertEquals("leader", l.getString("role"));
    assertEquals(leader, l.getString("votedFor"));
    assertEquals(0L, l.getLong("snapshotIndex"));
    assertEquals(2, l.getJsonObject("nextIndex").size());
    assertTrue(l.getJsonArray("tail").size() >= 2, "config and no-op entries");
    assertEquals("config", l.getJsonArray("tail").getJsonObject(0).getString("k"));
    assertTrue(c.getJsonObject("admin").getBoolean("tokenConfigured"));
    assertFalse(c.getJsonObject("admin").getBoolean("nodeControl"));
  }

  @Test
  void adminActionsRefuseAMissingOrWrongToken() {
    startCluster(3, new WebUiOptions().setAdminToken(TOKEN));
    awaitLeader();
    JsonObject value = new JsonObject().put("value", "x");
    for (String path : List.of("/api/nodes/n1/stop", "/api/nodes/n1/start",
        "/api/nodes/n1/partition", "/api/nodes/n1/heal", "/api/propose")) {
      HttpResponse<Buffer> missing = post(path, null, value);
      assertEquals(401, missing.statusCode(), path);
      assertEquals("UNAUTHORIZED", missing.bodyAsJsonObject().getString("code"));
      assertTrue(missing.bodyAsJsonObject().getString("error").contains("missing admin token"));
      assertTrue(missing.getHeader("WWW-Authenticate").startsWith("Bearer"));
      HttpResponse<Buffer> wrong = post(path, TOKEN + "x", value);
      assertEquals(401, wrong.statusCode(), path);
      assertEquals("invalid admin token", wrong.bodyAsJsonObject().getString("error"));
      var basic = await(client.post(port, "127.0.0.1", path)
          .putHeader("Authorization", "Basic dXNlcjpwYXNz").sendJsonObject(value));
      assertEquals(401, basic.statusCode(), path);
    }
    assertFalse(node(cluster(), "n1").getBoolean("partitioned"), "nothing happened");
    assertEquals(0, nodes.values().stream().mapToLong(n -> n.stats().proposalsCommitted()).sum());
  }

  @Test
  void adminActionsAreOffWithoutAToken() {
    startCluster(3, new WebUiOptions());
    HttpResponse<Buffer> r = post("/api/nodes/n1/partition", "anything", null);
    assertEquals(403, r.statusCode());
    assertEquals("ADMIN_DISABLED", r.bodyAsJsonObject().getString("code"));
    assertFalse(cluster().getJsonObject("admin").getBoolean("tokenConfigured"));
  }

  @Test
  void adminActionsDriveTheCluster() {
    startCluster(3, new WebUiOptions().setAdminToken(TOKEN));
    String leader = awaitLeader();

    HttpResponse<Buffer> proposed = post("/api/propose", TOKEN, new JsonObject()
        .put("value", "hello"));
    assertEquals(200, proposed.statusCode(), proposed.bodyAsString());
    long index = proposed.bodyAsJsonObject().getLong("index");
    assertEquals(leader, proposed.bodyAsJsonObject().getString("node"));
    assertEquals("ok:hello", proposed.bodyAsJsonObject().getString("result"));
    eventually("every node's log view holds the entry, committed", () -> {
      JsonObject c = cluster();
      for (String id : nodes.keySet()) {
        JsonObject n = node(c, id);
        if (n.getLong("commitIndex") < index || n.getJsonArray("tail").stream()
            .map(JsonObject.class::cast)
            .noneMatch(e -> e.getLong("i") == index && "hello".equals(e.getString("x")))) {
          return false;
        }
      }
      return true;
    });
    assertEquals(400, post("/api/propose", TOKEN, new JsonObject().put("nope", 1)).statusCode());
    assertEquals(404, post("/api/nodes/n9/partition", TOKEN, null).statusCode());

    String follower = nodes.keySet().stream().filter(id -> !id.equals(leader)).findFirst()
        .orElseThrow();
    assertEquals(200, post("/api/nodes/" + follower + "/partition", TOKEN, null).statusCode());
    assertTrue(nodes.get(follower).faults().partitionedNodes().contains(follower));
    eventually("shown partitioned", () -> node(cluster(), follower).getBoolean("partitioned"));
    assertEquals(200, post("/api/nodes/" + follower + "/heal", TOKEN, null).statusCode());
    assertTrue(nodes.get(follower).faults().partitionedNodes().isEmpty());

    HttpResponse<Buffer> noControl = post("/api/nodes/" + leader + "/stop", TOKEN, null);
    assertEquals(501, noControl.statusCode(), "no NodeControl: refused, not faked");

    ui.nodeControl(new NodeControl() {
      @Override
      public Future<Void> stop(String nodeId) {
        return nodes.remove(nodeId).close();
      }

      @Override
      public Future<RaftNode> start(String nodeId) {
        return RaftNode.deploy(vertx, options.get(nodeId), new Counter())
            .onSuccess(n -> nodes.put(nodeId, n));
      }
    });
    long term = node(cluster(), leader).getLong("term");
    assertEquals(409, post("/api/nodes/" + leader + "/start", TOKEN, null).statusCode());
    HttpResponse<Buffer> stopped = post("/api/nodes/" + leader + "/stop", TOKEN, null);
    assertEquals(200, stopped.statusCode(), stopped.bodyAsString());
    assertEquals("stopped", node(cluster(), leader).getString("state"));
    eventually("a new leader in a higher term", () -> {
      JsonObject c = cluster().getJsonObject("cluster");
      String l = c.getString("leader");
      return l != null && !l.equals(leader) && c.getLong("term") > term;
    });
    assertEquals(409, post("/api/nodes/" + leader + "/stop", TOKEN, null).statusCode());
    assertEquals(200, post("/api/nodes/" + leader + "/start", TOKEN, null).statusCode());
    eventually("restarted node follows", () -> {
      JsonObject n = node(cluster(), leader);
      return "running".equals(n.getString("state")) && n.getString("leaderId") != null;
    });
    JsonArray timeline = cluster().getJsonArray("timeline");
    assertTrue(timeline.stream().map(JsonObject.class::cast)
        .anyMatch(t -> "action".equals(t.getString("type"))
            && t.getString("text").equals("stopped")), timeline.encodePrettily());
    assertTrue(timeline.stream().map(JsonObject.class::cast)
        .anyMatch(t -> "role".equals(t.getString("type"))
            && "leader".equals(t.getString("role"))), "elections are on the timeline");
  }

  @Test
  void theEventStreamSendsASnapshotThenCoalescedUpdatesAtFiveNodesUnderLoad() {
    int pushesPerSecond = 10;
    startCluster(5, new WebUiOptions().setMaxPushesPerSecond(pushesPerSecond).setMaxClients(1));
    String leader = awaitLeader();
    Stream stream = new Stream().open();
    eventually("a snapshot first", () -> !stream.events.isEmpty());
    JsonObject first = stream.events.get(0);
    assertEquals("snapshot", first.getString("_event"));
    assertEquals(5, first.getJsonArray("nodes").size());
    assertEquals(503, get("/api/events").statusCode(), "maxClients is 1");

    // Load: 1,500 proposals per second on the leader (15 every 10 ms) for 3 seconds.
    RaftNode l = nodes.get(leader);
    AtomicLong committed = new AtomicLong();
    AtomicLong outstanding = new AtomicLong();
    Promise<Void> done = Promise.promise();
    long loadStart = System.currentTimeMillis();
    long end = loadStart + 3_000;
    vertx.setPeriodic(10, timer -> {
      if (System.currentTimeMillis() >= end) {
        vertx.cancelTimer(timer);
        vertx.setPeriodic(20, t2 -> {
          if (outstanding.get() == 0) {
            vertx.cancelTimer(t2);
            done.tryComplete();
          }
        });
        return;
      }
      for (int i = 0; i < 15; i++) {
        outstanding.incrementAndGet();
        l.propose(Buffer.buffer("load")).onComplete(ar -> {
          outstanding.decrementAndGet();
          if (ar.succeeded()) {
            committed.incrementAndGet();
          }
        });
      }
    });
    await(done.future());
    double seconds = (System.currentTimeMillis() - loadStart) / 1000.0;
    long lastIndex = await(l.status()).commitIndex();
    System.out.printf("web UI load: %d commits in %.1f s (%.0f/s) at 5 nodes%n", committed.get(),
        seconds, committed.get() / seconds);
    assertTrue(committed.get() > 3_000, "the load ran at over 1,000 commits/s: " + committed.get());

    eventually("the stream shows every node at the final commit index", () -> {
      Map<String, Long> seen = new LinkedHashMap<>();
      for (JsonObject e : stream.events) {
        for (Object o : e.getJsonArray("nodes", new JsonArray())) {
          JsonObject n = (JsonObject) o;
          if (n.containsKey("commitIndex")) {
            seen.put(n.getString("id"), n.getLong("commitIndex"));
          }
        }
      }
      return seen.size() == 5 && seen.values().stream().allMatch(c -> c >= lastIndex);
    });

    // Coalesced: in any one-second window at most ~maxPushesPerSecond updates (+1 for timing).
    List<Long> at = new ArrayList<>(stream.arrivals.subList(1, stream.arrivals.size()));
    assertTrue(at.size() >= 5, "updates were pushed: " + at.size());
    int worst = 0;
    for (int i = 0; i < at.size(); i++) {
      int j = i;
      while (j < at.size() && at.get(j) - at.get(i) < 1000) {
        j++;
      }
      worst = Math.max(worst, j - i);
    }
    assertTrue(worst <= pushesPerSecond + 1, "pushes in one second: " + worst);
    for (JsonObject e : stream.events.subList(1, stream.events.size())) {
      assertEquals("update", e.getString("_event"));
      assertTrue(e.encode().length() < 200_000, "bounded update size");
    }
    JsonArray series = cluster().getJsonArray("series");
    assertTrue(series.stream().map(JsonObject.class::cast)
        .anyMatch(p -> p.getLong("commits") > 0 && p.getDouble("latencyMs") != null),
        "plots have commits per second and latency: " + series.encode());

    stream.close();
    Stream again = new Stream();
    eventually("the closed stream is unregistered: a new one fits under maxClients=1",
        again::tryOpen);
    eventually("a snapshot again", () -> !again.events.isEmpty());
    assertEquals("snapshot", again.events.get(0).getString("_event"),
        () -> again.events.stream().map(e -> e.getString("_event") + "@" + e.getLong("time"))
            .toList().toString());
    again.close();
  }

  @Test
  void membershipChangesAndLeadershipTransferGoThroughTheLeader() {
    startCluster(3, new WebUiOptions().setAdminToken(TOKEN));
    String leader = awaitLeader();
    List<String> followers = nodes.keySet().stream().filter(id -> !id.equals(leader)).sorted()
        .toList();

    assertEquals(401, await(client.delete(port, "127.0.0.1", "/api/cluster/members/n1").send())
        .statusCode(), "removal needs the token too");
    assertEquals(400, post("/api/cluster/leader", TOKEN, new JsonObject()).statusCode());

    String target = followers.get(0);
    HttpResponse<Buffer> moved = post("/api/cluster/leader", TOKEN, new JsonObject()
        .put("id", target));
    assertEquals(200, moved.statusCode(), moved.bodyAsString());
    eventually("the transfer shows", () -> target.equals(cluster().getJsonObject("cluster")
        .getString("leader")));

    String removed = leader;
    HttpResponse<Buffer> r = await(client.delete(port, "127.0.0.1", "/api/cluster/members/"
        + removed).putHeader("Authorization", "Bearer " + TOKEN).send());
    assertEquals(200, r.statusCode(), r.bodyAsString());
    eventually("the configuration lacks " + removed, () -> !cluster().getJsonObject("cluster")
        .getJsonObject("configuration").getJsonArray("voters").contains(removed));

    ui.nodeControl(new NodeControl() {
      @Override
      public Future<Void> stop(String nodeId) {
        return nodes.remove(nodeId).close();
      }

      @Override
      public Future<RaftNode> start(String nodeId) {
        Map<String, String> peers = new LinkedHashMap<>();
        for (String id : List.of("n1", "n2", "n3", nodeId)) {
          peers.put(id, "local");
        }
        RaftOptions o = new RaftOptions().setNodeId(nodeId).setClusterId("ui").setPeers(peers)
            .setDataDir(dir.resolve(nodeId).toString()).setJoin(true);
        return RaftNode.deploy(vertx, o, new Counter()).onSuccess(n -> nodes.put(nodeId, n));
      }
    });
    HttpResponse<Buffer> added = post("/api/cluster/members", TOKEN, new JsonObject()
        .put("id", "n4"));
    assertEquals(200, added.statusCode(), added.bodyAsString());
    JsonObject c = cluster();
    assertTrue(c.getJsonObject("cluster").getJsonObject("configuration").getJsonArray("voters")
        .contains("n4"), c.encodePrettily());
    eventually("n4 follows", () -> {
      JsonObject n4 = node(cluster(), "n4");
      return n4 != null && "running".equals(n4.getString("state"))
          && target.equals(n4.getString("leaderId"));
    });
    assertTrue(cluster().getJsonArray("timeline").stream().map(JsonObject.class::cast)
        .anyMatch(t -> "added as a voter".equals(t.getString("text"))));
  }

  @Test
  void optionsRoundTripThroughJson() {
    WebUiOptions o = new WebUiOptions().setAdminToken("t").setLogTailEntries(7)
        .setEntryPreviewBytes(9).setMaxPushesPerSecond(3).setHistorySeconds(60)
        .setTimelineEvents(11).setMaxClients(2).setProposeHint("k=v");
    WebUiOptions copy = new WebUiOptions(o.toJson());
    assertEquals(o.toJson(), copy.toJson());
    assertNull(new WebUiOptions().getAdminToken());
    assertNotNull(AdminAuthHandler.generateToken());
    assertEquals(32, AdminAuthHandler.generateToken().length());
  }
}
