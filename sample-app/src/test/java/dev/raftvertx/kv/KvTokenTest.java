package dev.raftvertx.kv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.raftvertx.RaftNode;
import dev.raftvertx.RaftOptions;
import dev.raftvertx.client.KvClient;
import dev.raftvertx.client.KvClientException;
import dev.raftvertx.client.KvClientOptions;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.junit5.VertxExtension;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The key-value token ({@code --kv-token}, {@code RAFT_KV_TOKEN}): when set, {@code /kv} and
 * {@code /sessions} answer 401 without it or with a wrong one, 200 with it; the status endpoints
 * stay open; it grants no admin rights; by default the key-value API is open.
 */
@ExtendWith(VertxExtension.class)
class KvTokenTest {

  static final String ADMIN = "admin-secret";
  static final String KV = "kv-secret";

  @TempDir
  Path dir;
  Vertx vertx;
  WebClient client;
  RaftNode node;
  int port;

  static <T> T await(Future<T> f) {
    return KvHttpTest.await(f);
  }

  @BeforeEach
  void setUp(Vertx vertx) {
    this.vertx = vertx;
    this.client = WebClient.create(vertx);
  }

  @AfterEach
  void tearDown() {
    if (node != null) {
      await(node.close());
    }
  }

  /** Starts a single-node cluster behind a KvHttpServer with this key-value token. */
  void start(String kvToken) {
    RaftOptions o = new RaftOptions().setNodeId("n1").setClusterId("kvtoken")
        .setPeers(Map.of("n1", "local")).setDataDir(dir.resolve("n1").toString())
        .setMaxEntryBytes(10_000);
    node = await(RaftNode.deploy(vertx, o, new KvStateMachine()));
    port = KvHttpTest.freePort();
    await(new KvHttpServer(vertx, node, 10_000, ADMIN).kvToken(kvToken)
        .listen("127.0.0.1", port));
    awaitSettled(vertx, node);
  }

  /** Waits until the node leads and has committed and applied its whole log (its no-op). */
  static void awaitSettled(Vertx vertx, RaftNode node) {
    long deadline = System.currentTimeMillis() + 30_000;
    while (true) {
      dev.raftvertx.NodeStatus s = await(node.status());
      if (s.leaderId() != null && s.commitIndex() == s.lastIndex()
          && s.lastApplied() == s.commitIndex()) {
        return;
      }
      assertTrue(System.currentTimeMillis() < deadline, "not settled: " + s);
      await(Future.future(p -> vertx.setTimer(20, t -> p.complete())));
    }
  }

  HttpResponse<Buffer> send(String method, String path, String body, String authorization) {
    var req = client.request(io.vertx.core.http.HttpMethod.valueOf(method), port, "127.0.0.1",
        path).timeout(20_000);
    if (authorization != null) {
      req.putHeader("Authorization", authorization);
    }
    return await(body == null ? req.send() : req.sendBuffer(Buffer.buffer(body)));
  }

  static void assertUnauthorized(HttpResponse<Buffer> r, String challenge) {
    assertEquals(401, r.statusCode(), r.bodyAsString());
    assertEquals(challenge, r.getHeader("WWW-Authenticate"));
    JsonObject body = r.bodyAsJsonObject();
    assertEquals("UNAUTHORIZED", body.getString("code"));
    assertEquals("not_applied", body.getString("outcome"));
    assertTrue(body.getString("error").contains("key-value token"), body.encode());
  }

  @Test
  void withATokenTheKeyValueApiAnswers401WithoutItAnd200WithIt() {
    start(KV);
    String bearer = "Bearer " + KV;
    String realm = "Bearer realm=\"kv\"";
    long before = await(node.status()).commitIndex();
    assertUnauthorized(send("PUT", "/kv/color", "blue", null), realm);
    assertUnauthorized(send("PUT", "/kv/color", "blue", "Bearer wrong"),
        realm + ", error=\"invalid_token\"");
    assertUnauthorized(send("PUT", "/kv/color", "blue", "Bearer " + KV + "x"),
        realm + ", error=\"invalid_token\"");
    assertUnauthorized(send("PUT", "/kv/color", "blue", "Basic " + KV),
        realm + ", error=\"invalid_request\"");
    assertUnauthorized(send("PUT", "/kv/color", "blue", "Bearer " + ADMIN),
        realm + ", error=\"invalid_token\"");
    assertUnauthorized(send("GET", "/kv/color", null, null), realm);
    assertUnauthorized(send("DELETE", "/kv/color", null, null), realm);
    assertUnauthorized(send("POST", "/kv/color/cas", "{\"expect\":null,\"value\":\"x\"}", null),
        realm);
    assertUnauthorized(send("POST", "/sessions", null, "Bearer "), realm // sent as "Bearer"
        + ", error=\"invalid_request\"");
    // path spellings that route to the key-value handlers are guarded as well
    assertUnauthorized(send("GET", "/kv/../kv/color", null, null), realm);
    assertUnauthorized(send("GET", "//kv/color", null, null), realm);
    assertUnauthorized(send("GET", "/%6bv/color", null, null), realm);
    assertEquals(before, await(node.status()).commitIndex(), "a refused request wrote");

    HttpResponse<Buffer> put = send("PUT", "/kv/color", "blue", bearer);
    assertEquals(200, put.statusCode(), put.bodyAsString());
    assertTrue(put.bodyAsJsonObject().getLong("index") > before);
    assertEquals("blue", send("GET", "/kv/color", null, bearer).bodyAsString());
    assertEquals("blue", send("GET", "/kv/color", null, "bearer   " + KV + " ").bodyAsString());
    assertEquals(200, send("POST", "/sessions", null, bearer).statusCode());
    assertEquals(200, send("DELETE", "/kv/color", null, bearer).statusCode());

    // a refused request with a body leaves the connection usable for the next one
    assertUnauthorized(send("PUT", "/kv/big", "x".repeat(5_000), null), realm);
    assertEquals(200, send("PUT", "/kv/after", "ok", bearer).statusCode());

    // open endpoints stay open
    for (String open : List.of("/status", "/health", "/ready")) {
      assertEquals(200, send("GET", open, null, null).statusCode(), open);
    }
    // the key-value token is no admin token, and the admin endpoints still want theirs
    assertEquals(401, send("POST", "/cluster/leader", "{\"id\":\"n1\"}", bearer).statusCode());
    assertEquals(200, send("POST", "/cluster/leader", "{\"id\":\"n1\"}", "Bearer " + ADMIN)
        .statusCode());
  }

  @Test
  void byDefaultTheKeyValueApiIsOpen() {
    start(null);
    assertEquals(200, send("PUT", "/kv/color", "blue", null).statusCode());
    assertEquals("blue", send("GET", "/kv/color", null, null).bodyAsString());
    assertEquals(200, send("GET", "/kv/color", null, "Bearer anything").statusCode());
    assertEquals(200, send("POST", "/sessions", null, null).statusCode());
    assertEquals(401, send("POST", "/cluster/leader", "{\"id\":\"n1\"}", null).statusCode());
  }

  @Test
  void theClientSendsItsToken() {
    start(KV);
    String endpoint = "127.0.0.1:" + port;
    KvClient with = KvClient.create(vertx, new KvClientOptions().setEndpoints(List.of(endpoint))
        .setToken(KV));
    KvClient without = KvClient.create(vertx, new KvClientOptions()
        .setEndpoints(List.of(endpoint)).setRetryTimeoutMillis(1_000));
    try {
      assertTrue(await(with.put("k", Buffer.buffer("v"))) > 0);
      assertEquals("v", await(with.get("k")).toString());
      assertNull(await(with.get("absent")));
      Future<Long> refused = without.put("k", Buffer.buffer("w"));
      assertThrows(AssertionError.class, () -> await(refused));
      KvClientException e = assertInstanceOf(KvClientException.class, refused.cause());
      assertEquals(401, e.status(), e.getMessage());
      assertTrue(e.knownNotApplied(), e.getMessage());
      assertEquals("v", await(with.get("k")).toString());
    } finally {
      await(with.close());
      await(without.close());
    }
    assertThrows(IllegalArgumentException.class, () -> new KvClientOptions().setToken(" "));
    assertThrows(IllegalArgumentException.class, () -> new KvClientOptions().setToken("a\r\nb"));
  }

  @Test
  void theOptionWinsOverTheEnvironmentAndNeitherMeansNoToken() {
    assertEquals("opt", KvMain.kvToken("opt", "env"));
    assertEquals("env", KvMain.kvToken(null, "env"));
    assertNull(KvMain.kvToken(null, null));
    assertNull(KvMain.kvToken(null, "  "));
    assertThrows(IllegalArgumentException.class, () -> KvMain.kvToken("", "env"));
    KvMain app = new KvMain();
    new CommandLine(app).parseArgs("--kv-token", "from-flag");
    assertEquals("from-flag", app.kvToken);
    KvMain plain = new KvMain();
    new CommandLine(plain).parseArgs();
    assertNull(plain.kvToken);
  }
}
