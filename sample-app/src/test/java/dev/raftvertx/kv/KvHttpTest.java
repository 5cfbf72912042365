package dev.raftvertx.kv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.raftvertx.RaftNode;
import dev.raftvertx.RaftOptions;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.junit5.VertxExtension;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** Every endpoint of the key-value HTTP API and every error answer, against a real cluster. */
@ExtendWith(VertxExtension.class)
class KvHttpTest {

  static final String TOKEN = "s3cret";

  @TempDir
  Path dir;
  Vertx vertx;
  WebClient client;
  final Map<String, RaftNode> nodes = new LinkedHashMap<>();
  final Map<String, Integer> ports = new LinkedHashMap<>();

  static <T> T await(Future<T> f) {
    try {
      return f.await(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new AssertionError("failed: " + (f.cause() != null ? f.cause() : e), e);
    }
  }

  static int freePort() {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  void startCluster(int size, int maxUncommitted) {
    Map<String, String> members = new LinkedHashMap<>();
    for (int i = 1; i <= size; i++) {
      members.put("n" + i, "local");
    }
    for (String id : members.keySet()) {
      RaftOptions o = new RaftOptions().setNodeId(id).setClusterId("kvtest").setPeers(members)
          .setDataDir(dir.resolve(id).toString()).setRequestTimeoutMillis(1_500)
          .setMaxUncommittedEntries(maxUncommitted).setMaxEntryBytes(10_000);
      RaftNode node = await(RaftNode.deploy(vertx, o, new KvStateMachine()));
      nodes.put(id, node);
      int port = freePort();
      ports.put(id, port);
      await(new KvHttpServer(vertx, node, 10_000, TOKEN).listen("127.0.0.1", port));
    }
  }

  @BeforeEach
  void setUp(Vertx vertx) {
    this.vertx = vertx;
    this.client = WebClient.create(vertx);
  }

  @AfterEach
  void tearDown() {
    for (RaftNode n : nodes.values()) {
      await(n.close());
    }
  }

  HttpResponse<Buffer> send(String node, String method, String path, Buffer body,
      Map<String, String> headers) {
    var req = client.request(io.vertx.core.http.HttpMethod.valueOf(method), ports.get(node),
        "127.0.0.1", path).timeout(20_000);
    headers.forEach(req::putHeader);
    return await(body == null ? req.send() : req.sendBuffer(body));
  }

  HttpResponse<Buffer> send(String node, String method, String path, String body) {
    return send(node, method, path, body == null ? null : Buffer.buffer(body), Map.of());
  }

  String leader() {
    long deadline = System.currentTimeMillis() + 30_000;
    while (System.currentTimeMillis() < deadline) {
      for (String id : nodes.keySet()) {
        JsonObject s = send(id, "GET", "/status", null).bodyAsJsonObject();
        if ("leader".equals(s.getString("role"))) {
          return id;
        }
      }
      await(Future.future(p -> vertx.setTimer(50, t -> p.complete())));
    }
    throw new AssertionError("no leader");
  }

  @Test
  void aConnectionThatStallsOrIdlesIsClosedAndTheServerKeepsServing() throws Exception {
    startCluster(1, 1000);
    leader();
    int port = freePort();
    await(new KvHttpServer(vertx, nodes.get("n1"), 10_000, TOKEN).idleTimeoutSeconds(1)
        .listen("127.0.0.1", port));
    // One connection sends half a request and stalls; another says nothing at all.
    try (java.net.Socket stalled = new java.net.Socket("127.0.0.1", port);
        java.net.Socket silent = new java.net.Socket("127.0.0.1", port)) {
      stalled.getOutputStream().write("GET /kv/x HTTP/1.1\r\nHost: a\r\n".getBytes(
          java.nio.charset.StandardCharsets.US_ASCII));
      for (java.net.Socket s : List.of(stalled, silent)) {
        s.setSoTimeout(20_000); // generous: the server closes after 1 s of silence
        assertEquals(-1, s.getInputStream().read(), "closed by the server");
      }
    }
    HttpResponse<Buffer> put = await(client.put(port, "127.0.0.1", "/kv/after")
        .sendBuffer(Buffer.buffer("ok")));
    assertEquals(200, put.statusCode(), put.bodyAsString());
  }

  @Test
  void keyValueEndpointsWorkFromEveryNode() {
    startCluster(3, 1000);
    leader();
    HttpResponse<Buffer> put = send("n2", "PUT", "/kv/color", "blue");
    assertEquals(200, put.statusCode(), put.bodyAsString());
    assertTrue(put.bodyAsJsonObject().getLong("index") > 0);
    for (String id : nodes.keySet()) {
      HttpResponse<Buffer> get = send(id, "GET", "/kv/color", null);
      assertEquals(200, get.statusCode());
      assertEquals("blue", get.bodyAsString());
    }
    assertEquals(404, send("n1", "GET", "/kv/missing", null).statusCode());
    HttpResponse<Buffer> stale = send("n3", "GET", "/kv/color?consistency=stale", null);
    assertTrue(stale.statusCode() == 200 || stale.statusCode() == 404, "stale read answers");
    assertEquals(400, send("n1", "GET", "/kv/color?consistency=sometimes", null).statusCode());

    assertEquals(200, send("n3", "DELETE", "/kv/color", null).statusCode());
    assertEquals(404, send("n3", "DELETE", "/kv/color", null).statusCode());
    assertEquals(404, send("n1", "GET", "/kv/color", null).statusCode());

    HttpResponse<Buffer> created = send("n1", "POST", "/kv/lock/cas",
        "{\"expect\": null, \"value\": \"a\"}");
    assertEquals(200, created.statusCode(), created.bodyAsString());
    HttpResponse<Buffer> conflict = send("n2", "POST", "/kv/lock/cas",
        "{\"expect\": \"b\", \"value\": \"c\"}");
    assertEquals(409, conflict.statusCode());
    assertEquals("a", conflict.bodyAsJsonObject().getString("current"));
    assertEquals(200, send("n2", "POST", "/kv/lock/cas", "{\"expect\": \"a\", \"value\": \"c\"}")
        .statusCode());
    assertEquals("c", send("n3", "GET", "/kv/lock", null).bodyAsString());
  }

  @Test
  void malformedRequestsGet400AndTheNodeStaysUp() {
    startCluster(3, 1000);
    leader();
    assertEquals(400, send("n1", "POST", "/kv/x/cas", "not json").statusCode());
    assertEquals(400, send("n1", "POST", "/kv/x/cas", "{\"value\": \"v\"}").statusCode());
    assertEquals(400, send("n1", "POST", "/kv/x/cas", "{\"expect\": 3, \"value\": \"v\"}")
        .statusCode());
    assertEquals(400, send("n1", "PUT", "/kv/x", Buffer.buffer("v"),
        Map.of("Client-Id", "abc", "Request-Id", "1")).statusCode());
    assertEquals(400, send("n1", "PUT", "/kv/x", Buffer.buffer("v"),
        Map.of("Client-Id", "5")).statusCode());
    HttpResponse<Buffer> unknown = send("n1", "GET", "/nowhere", null);
    assertEquals(404, unknown.statusCode());
    assertNotNull(unknown.bodyAsJsonObject().getString("error"));
    HttpResponse<Buffer> big = send("n1", "PUT", "/kv/big", "x".repeat(20_000));
    assertEquals(413, big.statusCode());
    assertEquals(200, send("n1", "GET", "/health", null).statusCode());
    assertEquals(200, send("n1", "PUT", "/kv/still", "up").statusCode());
  }

  @Test
  void writesWithASessionAreAppliedExactlyOnce() {
    startCluster(3, 1000);
    leader();
    HttpResponse<Buffer> s = send("n1", "POST", "/sessions", null);
    assertEquals(200, s.statusCode(), s.bodyAsString());
    String clientId = s.bodyAsJsonObject().getString("clientId");
    Map<String, String> h = Map.of("Client-Id", clientId, "Request-Id", "1");
    HttpResponse<Buffer> first = send("n2", "POST", "/kv/once/cas",
        Buffer.buffer("{\"expect\": null, \"value\": \"v1\"}"), h);
    assertEquals(200, first.statusCode(), first.bodyAsString());
    // the retry of the same request: not applied again (it would be a 409 conflict if it were)
    HttpResponse<Buffer> retry = send("n3", "POST", "/kv/once/cas",
        Buffer.buffer("{\"expect\": null, \"value\": \"v1\"}"), h);
    assertEquals(200, retry.statusCode(), retry.bodyAsString());
    assertEquals(first.bodyAsJsonObject().getLong("index"), retry.bodyAsJsonObject().getLong("index"));
    HttpResponse<Buffer> expired = send("n1", "PUT", "/kv/x", Buffer.buffer("v"),
        Map.of("Client-Id", "999999", "Request-Id", "1"));
    assertEquals(410, expired.statusCode());
    assertEquals("not_applied", expired.bodyAsJsonObject().getString("outcome"));
  }

  @Test
  void statusHealthAndReadiness() {
    startCluster(3, 1000);
    String leader = leader();
    JsonObject st = send(leader, "GET", "/status", null).bodyAsJsonObject();
    assertEquals("leader", st.getString("role"));
    assertEquals(leader, st.getString("leaderId"));
    assertEquals(3, st.getJsonObject("configuration").getJsonArray("voters").size());
    assertEquals(2, st.getJsonObject("matchIndex").size());
    assertEquals(200, send("n1", "GET", "/health", null).statusCode());
    assertEquals(200, send("n1", "GET", "/ready", null).statusCode());
  }

  @Test
  void noQuorumAnswers503WithTheOutcome() {
    startCluster(3, 1000);
    String leader = leader();
    List<String> others = new ArrayList<>(nodes.keySet());
    others.remove(leader);
    for (String id : others) {
      await(nodes.remove(id).close());
    }
    HttpResponse<Buffer> r = send(leader, "PUT", "/kv/k", "v");
    assertEquals(503, r.statusCode(), r.bodyAsString());
    String outcome = r.bodyAsJsonObject().getString("outcome");
    assertTrue(outcome.equals("unknown") || outcome.equals("not_applied"), outcome);
  }

  @Test
  void adminEndpointsRequireTheTokenAndChangeMembership() {
    startCluster(3, 1000);
    String leader = leader();
    String follower = nodes.keySet().stream().filter(id -> !id.equals(leader)).findFirst().get();
    Buffer body = Buffer.buffer("{\"id\": \"" + follower + "\"}");
    HttpResponse<Buffer> none = send(leader, "POST", "/cluster/leader", body, Map.of());
    assertEquals(401, none.statusCode());
    assertEquals("Bearer", none.getHeader("WWW-Authenticate"));
    assertEquals(401, send(leader, "POST", "/cluster/leader", body,
        Map.of("Authorization", "Bearer wrong")).statusCode());
    assertEquals(401, send(leader, "DELETE", "/cluster/members/" + follower, null,
        Map.of("Authorization", "Basic " + TOKEN)).statusCode());
    Map<String, String> auth = Map.of("Authorization", "Bearer " + TOKEN);
    assertEquals(400, send(leader, "POST", "/cluster/members", Buffer.buffer("{\"id\": 5}"), auth)
        .statusCode());
    assertEquals(409, send(leader, "POST", "/cluster/members",
        Buffer.buffer("{\"id\": \"" + follower + "\", \"address\": \"127.0.0.1:1\"}"), auth)
        .statusCode(), "already a member");
    HttpResponse<Buffer> moved = send(leader, "POST", "/cluster/leader", body, auth);
    assertEquals(200, moved.statusCode(), moved.bodyAsString());
    assertEquals(follower, leader());
    HttpResponse<Buffer> removed = send(follower, "DELETE", "/cluster/members/" + leader, null, auth);
    for (int i = 0; i < 50 && removed.statusCode() == 409; i++) {
      removed = send(follower, "DELETE", "/cluster/members/" + leader, null, auth); // new leader
    }
    assertEquals(200, removed.statusCode(), removed.bodyAsString());
    assertEquals(2, removed.bodyAsJsonObject().getJsonObject("configuration").getJsonArray("voters")
        .size());
  }

  @Test
  void faultEndpointRequiresTheTokenValidatesAndInjectsMessageFaults() {
    startCluster(3, 1000);
    String leader = leader();
    Buffer dropAll = Buffer.buffer("{\"drop\": 1}");
    HttpResponse<Buffer> none = send(leader, "POST", "/admin/faults", dropAll, Map.of());
    assertEquals(401, none.statusCode());
    assertEquals("Bearer", none.getHeader("WWW-Authenticate"));
    assertEquals("UNAUTHORIZED", none.bodyAsJsonObject().getString("code"));
    assertEquals(401, send(leader, "POST", "/admin/faults", dropAll,
        Map.of("Authorization", "Bearer wrong")).statusCode());
    assertEquals(401, send(leader, "DELETE", "/admin/faults", null, Map.of()).statusCode());
    Map<String, String> auth = Map.of("Authorization", "Bearer " + TOKEN,
        "Content-Type", "application/json");
    for (String bad : List.of("", "not json", "[1]", "{\"drop\": 1.5}", "{\"drop\": -0.1}",
        "{\"drop\": \"0.5\"}", "{\"duplicate\": 2}", "{\"delayMs\": -1}",
        "{\"delayMs\": 1.5}", "{\"delayMaxMs\": 60001}", "{\"reorder\": true}")) {
      HttpResponse<Buffer> r = send(leader, "POST", "/admin/faults", Buffer.buffer(bad), auth);
      assertEquals(400, r.statusCode(), bad + ": " + r.bodyAsString());
      assertEquals("BAD_REQUEST", r.bodyAsJsonObject().getString("code"), bad);
    }
    // nothing was set by the refused requests: writes still go through
    assertEquals(200, send(leader, "PUT", "/kv/a", "1").statusCode());

    // every message the leader sends is lost: it can no longer commit
    HttpResponse<Buffer> set = send(leader, "POST", "/admin/faults", dropAll, auth);
    assertEquals(200, set.statusCode(), set.bodyAsString());
    assertEquals(new JsonObject().put("drop", 1.0).put("duplicate", 0.0).put("delayMs", 0)
        .put("delayMaxMs", 0), set.bodyAsJsonObject());
    HttpResponse<Buffer> lost = send(leader, "PUT", "/kv/b", "2");
    assertEquals(503, lost.statusCode(), lost.bodyAsString());
    HttpResponse<Buffer> cleared = send(leader, "DELETE", "/admin/faults", null, auth);
    assertEquals(200, cleared.statusCode(), cleared.bodyAsString());
    HttpResponse<Buffer> put = send(leader(), "PUT", "/kv/b", "3");
    for (int i = 0; i < 50 && put.statusCode() == 503; i++) {
      put = send(leader(), "PUT", "/kv/b", "3"); // the leader may be changing
    }
    assertEquals(200, put.statusCode(), put.bodyAsString());

    // duplicated and reordered messages on every node: the cluster keeps its answers right
    for (String id : nodes.keySet()) {
      HttpResponse<Buffer> r = send(id, "POST", "/admin/faults",
          Buffer.buffer("{\"duplicate\": 0.5, \"delayMs\": 1, \"delayMaxMs\": 20}"), auth);
      assertEquals(200, r.statusCode(), r.bodyAsString());
      assertEquals(20, r.bodyAsJsonObject().getLong("delayMaxMs"));
    }
    int ok = 0;
    for (int i = 0; i < 20; i++) {
      HttpResponse<Buffer> w = send("n" + (1 + i % 3), "PUT", "/kv/c", "v" + i);
      if (w.statusCode() == 200) {
        ok++;
        HttpResponse<Buffer> r = send("n" + (1 + (i + 1) % 3), "GET", "/kv/c", null);
        assertEquals(200, r.statusCode(), r.bodyAsString());
        assertEquals("v" + i, r.bodyAsString(), "a linearizable read sees the last write");
      }
    }
    assertTrue(ok >= 10, "most writes succeed under duplication and reordering: " + ok);
    for (String id : nodes.keySet()) {
      assertEquals(200, send(id, "DELETE", "/admin/faults", null, auth).statusCode());
    }
  }

  @Test
  void overloadedLeaderAnswers429() {
    startCluster(1, 1);
    leader();
    List<Future<HttpResponse<Buffer>>> all = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      all.add(client.request(io.vertx.core.http.HttpMethod.PUT, ports.get("n1"), "127.0.0.1",
          "/kv/k" + i).sendBuffer(Buffer.buffer("v")));
    }
    int ok = 0;
    int overloaded = 0;
    for (Future<HttpResponse<Buffer>> f : all) {
      int code = await(f).statusCode();
      if (code == 200) {
        ok++;
      } else if (code == 429) {
        overloaded++;
        assertEquals("not_applied", await(f).bodyAsJsonObject().getString("outcome"));
      }
    }
    assertTrue(ok >= 1, "some writes succeed");
    assertTrue(overloaded >= 1, "some writes are refused as overloaded: ok=" + ok);
  }
}
