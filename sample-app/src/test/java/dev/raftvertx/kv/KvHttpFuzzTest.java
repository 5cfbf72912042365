package dev.raftvertx.kv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.raftvertx.NodeStatus;
import dev.raftvertx.RaftNode;
import dev.raftvertx.RaftOptions;
import dev.raftvertx.testing.FuzzSeed;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;
import io.vertx.junit5.VertxExtension;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fuzzes the key-value HTTP API of one embedded node (with an admin token and a key-value token)
 * with a few hundred seeded requests written byte by byte on raw connections: random and
 * unknown methods, paths with odd characters and bad percent-encodings, bad query strings,
 * huge, empty, binary and malformed bodies, bad JSON for CAS and the admin endpoints, bad
 * session headers, missing, wrong and malformed tokens, and some requests that are not HTTP.
 *
 * <p>Properties, for every request: an answer comes (never a hang: a generous bound); it is a
 * 2xx or a 4xx with a body (a 503 is allowed only as the API's JSON "no leader" answer, which a
 * single-node cluster should not even give); a request without the right key-value token gets
 * no stored value and writes nothing. A request that is not HTTP may instead just be closed.
 * Afterwards the node is up and leading, serves a normal PUT and GET, and every write it had
 * acknowledged (before and during the run) reads back as acknowledged.
 *
 * <p>Seeded: the seed is printed; {@code -Draft.fuzz.seed} replays a run and
 * {@code -Draft.fuzz.iterations} sends more requests.
 */
@ExtendWith(VertxExtension.class)
class KvHttpFuzzTest {

  static final int DEFAULT_REQUESTS = 300;
  static final String ADMIN = "fuzz-admin-token";
  static final String KV = "fuzz-kv-token";
  static final String SENTINEL = "SENTINEL-never-shown-without-the-token";
  static final int MAX_BODY = 10_000;
  /** Generous: a request that gets no answer in this long hangs. */
  static final long ANSWER_SECONDS = 30;

  /** Keys the checked writes use; the fuzzed requests never name them. */
  static final List<String> TRACKED = List.of("t0", "t1", "t2", "t3", "t4");

  /** Keys (path segments, raw) the fuzzed requests use. */
  static final List<String> KEYS = List.of("a", "k1", "x y", "x%20y", "%zz", "%", "%u0041",
      "%00", "%C3%A9", "%FF", "%2F", "%2e%2e", "..", ".", "+", ";", "a;b=c", "é", "\u2028",
      "漢字", "k?x", "k#frag", "", "a/b", "secret", "~!$&'()*,=:@", "%25", "\u0000", "\t");

  /** Node ids for admin requests: none is (or decodes to) this node's id, n1. */
  static final List<String> OTHER_IDS = List.of("n2", "zz", "nope", "%00", "a%20b", "..",
      "n1x", "%6E2", "", "x".repeat(300));

  @TempDir
  Path dir;
  Vertx vertx;
  RaftNode node;
  NetClient net;
  int port;
  /** What each tracked key holds as far as acknowledged writes tell (absent: deleted). */
  final Map<String, String> acknowledged = new LinkedHashMap<>();
  /** A session opened with the token, for valid session headers. */
  String sessionId;
  long nextRequestId = 1;

  static <T> T await(Future<T> f, long seconds) {
    try {
      return f.await(seconds, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new AssertionError("failed or timed out: " + (f.cause() != null ? f.cause() : e), e);
    }
  }

  @BeforeEach
  void start(Vertx vertx) {
    this.vertx = vertx;
    RaftOptions o = new RaftOptions().setNodeId("n1").setClusterId("kvfuzz")
        .setPeers(Map.of("n1", "local")).setDataDir(dir.resolve("n1").toString())
        .setMaxEntryBytes(MAX_BODY).setRequestTimeoutMillis(5_000);
    node = await(RaftNode.deploy(vertx, o, new KvStateMachine()), 30);
    port = KvHttpTest.freePort();
    await(new KvHttpServer(vertx, node, MAX_BODY, ADMIN).kvToken(KV).listen("127.0.0.1", port),
        30);
    net = vertx.createNetClient(new NetClientOptions().setConnectTimeout(10_000));
    KvTokenTest.awaitSettled(vertx, node);
  }

  @AfterEach
  void stop() {
    if (net != null) {
      await(net.close(), 30);
    }
    if (node != null) {
      await(node.close(), 30);
    }
  }

  /** An HTTP answer as read off the wire. */
  record Answer(int status, Map<String, String> headers, byte[] body, String raw) {
    String text() {
      return new String(body, StandardCharsets.UTF_8);
    }
  }

  /**
   * One request: its bytes and what the checks need to know about it. {@code http} is true for
   * a request that follows HTTP/1.1 to the letter (a token for a method, a target and header
   * values of printable ASCII), which must get an answer; the server may just close the
   * connection on anything else.
   */
  record Request(String method, String target, byte[] bytes, boolean http, boolean kvAuthorized,
      boolean adminAuthorized, String describe) {
  }

  @Test
  void everyRequestGetsAClearAnswerAndTheNodeKeepsWhatItAcknowledged() {
    FuzzSeed seed = FuzzSeed.fromProperties("KvHttpFuzzTest", DEFAULT_REQUESTS);
    // acknowledged before the run
    assertEquals(200, exchange(wellFormed("PUT", "/kv/secret", Map.of("Authorization",
        "Bearer " + KV), SENTINEL.getBytes(StandardCharsets.UTF_8))).status());
    for (String k : TRACKED) {
      putTracked(k, "before-" + k);
    }
    Answer session = exchange(wellFormed("POST", "/sessions", Map.of("Authorization",
        "Bearer " + KV), null));
    assertEquals(200, session.status(), session.raw());
    sessionId = new JsonObject(Buffer.buffer(session.body())).getString("clientId");

    Map<Integer, Integer> statuses = new HashMap<>();
    long start = System.nanoTime();
    for (int i = seed.first(); i < seed.end(); i++) {
      Random r = new Random(seed.caseSeed(i));
      String replay = seed.replay(i);
      if (r.nextInt(10) == 0) { // a checked write among the fuzz, with the token
        String k = TRACKED.get(r.nextInt(TRACKED.size()));
        if (r.nextInt(3) == 0) {
          deleteTracked(k);
        } else {
          putTracked(k, "v" + i + "-" + r.nextInt(1000));
        }
        continue;
      }
      Request req = r.nextInt(12) == 0 ? notHttp(r) : request(r);
      long commitBefore = status().commitIndex();
      Answer a;
      try {
        a = exchange(req);
      } catch (AssertionError e) {
        throw new AssertionError(replay + ": " + req.describe() + ": " + e.getMessage(), e);
      }
      check(req, a, replay);
      if (!req.kvAuthorized() && !req.adminAuthorized()) {
        assertEquals(commitBefore, status().commitIndex(), replay + ": " + req.describe()
            + " had no token but something was written");
      }
      statuses.merge(a == null ? 0 : a.status(), 1, Integer::sum);
    }
    System.out.printf("FUZZ KvHttpFuzzTest: %d requests in %.1f s, answers by status (0 = closed"
        + " without an answer) %s%n", seed.iterations(), (System.nanoTime() - start) / 1e9,
        new java.util.TreeMap<>(statuses));

    // still up, still leading, still serving; nothing acknowledged was lost
    NodeStatus s = status();
    assertNull(s.error(), "node error: " + s.error());
    assertEquals("n1", s.leaderId());
    putTracked("t0", "after");
    for (String k : TRACKED) {
      Answer get = exchange(wellFormed("GET", "/kv/" + k, Map.of("Authorization",
          "Bearer " + KV), null));
      String expected = acknowledged.get(k);
      if (expected == null) {
        assertEquals(404, get.status(), k + ": " + get.raw());
      } else {
        assertEquals(200, get.status(), k + ": " + get.raw());
        assertEquals(expected, get.text(), k);
      }
    }
  }

  /** What the fuzzer found, each as a fixed request: they all answer a JSON 4xx now. */
  @Test
  void requestsTheFuzzerFoundGetAJsonClientError() {
    String auth = "Bearer " + KV;
    // a form body on a GET: Vert.x will not decode it, and the API answered 500
    assertJsonError(exchange(wellFormed("GET", "/kv/a", Map.of("Authorization", auth,
        "Content-Type", "application/x-www-form-urlencoded"), "x=1".getBytes())), 400);
    // a bad percent-escape in the path: a plain-text 400 and a stack trace logged per request
    assertJsonError(exchange(wellFormed("GET", "/kv/%zz", Map.of("Authorization", auth), null)),
        400);
    assertJsonError(exchange(wellFormed("GET", "/kv/a?consistency=%", Map.of("Authorization",
        auth), null)), 400);
    // a form body with a bad escape in the query: decoding the query threw once the body was
    // read, outside any handler, and the request was never answered
    Answer form = exchange(wellFormed("PUT", "/kv/form?x=%", Map.of("Authorization", auth,
        "Content-Type", "multipart/form-data; boundary=x"), "[1]".getBytes()));
    assertTrue(form != null && form.status() < 500 && form.body().length > 0,
        form == null ? "no answer" : form.raw());
    // a request line or headers too long for the HTTP decoder: an empty 414 or 431
    assertJsonError(exchange(wellFormed("GET", "/kv/" + "k".repeat(5_000), Map.of(), null)), 414);
    assertJsonError(exchange(wellFormed("GET", "/status", Map.of("X-Big", "y".repeat(10_000)),
        null)), 431);
    assertEquals(200, exchange(wellFormed("GET", "/health", Map.of(), null)).status());
    // and curl -d (a form content type) still stores the raw body as the value
    assertEquals(200, exchange(wellFormed("PUT", "/kv/hello", Map.of("Authorization", auth,
        "Content-Type", "application/x-www-form-urlencoded"), "world".getBytes())).status());
    assertEquals("world", exchange(wellFormed("GET", "/kv/hello", Map.of("Authorization", auth),
        null)).text());
  }

  private static void assertJsonError(Answer a, int status) {
    assertTrue(a != null, "no answer");
    assertEquals(status, a.status(), a.raw());
    assertTrue(a.headers().getOrDefault("content-type", "").startsWith("application/json"),
        a.raw());
    String error = new JsonObject(Buffer.buffer(a.body())).getString("error");
    assertTrue(error != null && !error.isBlank(), a.raw());
  }

  // ------------------------------------------------------------------------------------------
  // Checks
  // ------------------------------------------------------------------------------------------

  private void check(Request req, Answer a, String replay) {
    String what = replay + ": " + req.describe() + " -> " + (a == null ? "closed" : a.raw());
    if (a == null) {
      assertTrue(!req.http(), what + ": a well-formed request got no answer");
      return;
    }
    int st = a.status();
    // Vert.x itself answers a request line of another HTTP version (say HTTP/9.9) with 501
    // before any handler sees it: the one 5xx a request can get that is not the API's 503
    boolean otherVersion = !req.http() && !new String(req.bytes(), StandardCharsets.ISO_8859_1)
        .matches("(?s)[^\\r\\n]* HTTP/1\\.[01]\\r\\n.*");
    assertTrue(st >= 200 && st < 500 || st == 503 || st == 501 && otherVersion,
        what + ": status " + st);
    if (st == 503) { // the API's "no leader / no quorum in time": a JSON error with an outcome
      JsonObject body = new JsonObject(Buffer.buffer(a.body()));
      assertTrue(body.getString("error") != null && body.getString("outcome") != null, what);
    }
    boolean head = "HEAD".equals(req.method());
    if (req.http() && !head) {
      assertTrue(a.body().length > 0, what + ": no body");
      String type = a.headers().getOrDefault("content-type", "");
      assertTrue(st < 400 || type.startsWith("application/json"),
          what + ": an error that is not the API's JSON error");
      if (type.startsWith("application/json")) {
        try {
          JsonObject body = new JsonObject(Buffer.buffer(a.body()));
          // an error says why; the two documented answers that are not errors: a DELETE of
          // an absent key (404 {"deleted": false}) and a CAS that did not swap (409 {"current"})
          boolean documented = st == 404 && Boolean.FALSE.equals(body.getValue("deleted"))
              || st == 409 && body.containsKey("current");
          if (st >= 400 && !documented) {
            assertTrue(body.getValue("error") instanceof String e && !e.isBlank(),
                what + ": an error without its reason");
          }
        } catch (DecodeException e) {
          throw new AssertionError(what + ": the body is not the JSON it claims to be", e);
        }
      }
    }
    if (!req.kvAuthorized()) {
      assertTrue(!a.text().contains(SENTINEL), what + ": a value leaked without the token");
    }
  }

  // ------------------------------------------------------------------------------------------
  // Checked writes
  // ------------------------------------------------------------------------------------------

  private void putTracked(String key, String value) {
    Answer a = exchange(wellFormed("PUT", "/kv/" + key, Map.of("Authorization", "Bearer " + KV),
        value.getBytes(StandardCharsets.UTF_8)));
    assertEquals(200, a.status(), "PUT " + key + ": " + a.raw());
    acknowledged.put(key, value);
  }

  private void deleteTracked(String key) {
    Answer a = exchange(wellFormed("DELETE", "/kv/" + key, Map.of("Authorization",
        "Bearer " + KV), null));
    assertEquals(acknowledged.containsKey(key) ? 200 : 404, a.status(), "DELETE " + key + ": "
        + a.raw());
    acknowledged.remove(key);
  }

  private NodeStatus status() {
    return await(node.status(), 30);
  }

  // ------------------------------------------------------------------------------------------
  // Fuzzed requests
  // ------------------------------------------------------------------------------------------

  private Request request(Random r) {
    String method = pick(r, 8) ? pick(r, List.of("HEAD", "OPTIONS", "PATCH", "TRACE", "FOO",
        "get", "PUT ", "M-SEARCH")) : pick(r, List.of("GET", "PUT", "POST", "DELETE"));
    String key = key(r);
    String path = switch (r.nextInt(16)) {
      case 0, 1, 2, 3 -> "/kv/" + key;
      case 4, 5 -> "/kv/" + key + "/cas";
      case 6 -> pick(r, List.of("/kv", "/kv/", "/kv//x", "/kv/a/b/c", "//kv/a", "/./kv/a",
          "/kv/../kv/a", "/%6bv/a", "/KV/a", "/kv/a/", "/kv/a/cas/x"));
      case 7 -> pick(r, List.of("/sessions", "/sessions/", "/sessions/1", "/sessionsX"));
      case 8, 9 -> "/cluster/members";
      case 10 -> "/cluster/members/" + pick(r, OTHER_IDS);
      case 11, 12 -> "/cluster/leader";
      case 13 -> pick(r, List.of("/cluster", "/cluster/", "/cluster/x", "/cluster/../kv/a"));
      case 14 -> pick(r, List.of("/status", "/health", "/ready", "/metrics"));
      default -> pick(r, List.of("/", "/nowhere", "/../etc/passwd", "/%2e%2e/kv/a", "*",
          "/" + "a".repeat(5_000), "/kv/" + "k".repeat(3_000), "/\u00e9", "/a b"));
    };
    String query = switch (r.nextInt(10)) {
      case 0 -> "?consistency=stale";
      case 1 -> "?consistency=linearizable";
      case 2 -> "?consistency=" + pick(r, List.of("", "STALE", "sometimes", "%zz", "%",
          "stale%00", "stale&consistency=linearizable"));
      case 3 -> pick(r, List.of("?", "?%%%", "?consistency", "?=x", "?a=%E9", "?&&&",
          "?consistency=stale#x", "?" + "q=1&".repeat(2_000)));
      default -> "";
    };
    String target = path + query;

    Map<String, String> headers = new LinkedHashMap<>();
    boolean kvAuthorized = false;
    boolean adminAuthorized = false;
    boolean admin = path.startsWith("/cluster");
    int auth = r.nextInt(10);
    if (auth < 8) {
      // mostly the right token, so that requests reach the handlers' own checks
      if (admin && r.nextInt(3) != 0) {
        headers.put("Authorization", "Bearer " + ADMIN);
        adminAuthorized = true;
      } else {
        headers.put("Authorization", "Bearer " + KV);
        kvAuthorized = true;
      }
    } else if (auth < 10) {
      headers.put("Authorization", pick(r, List.of("Bearer", "Bearer wrong", "Basic " + KV,
          "Bearer " + KV + "x", "Bearer  " + KV.substring(1), "bearer", "Bearer \u00e9",
          "Bearer " + "x".repeat(3_000), KV, "Bearer " + KV + ", Bearer " + KV)));
    }
    if (r.nextInt(4) == 0) {
      switch (r.nextInt(5)) {
        case 0 -> headers.put("Client-Id", sessionId);
        case 1 -> headers.put("Client-Id", pick(r, List.of("abc", "-1", "0", "1", " 1",
            "99999999999999999999", "1e3", "0x10", sessionId + "0")));
        case 2 -> headers.put("Request-Id", pick(r, List.of("1", "-5", "x", "")));
        default -> {
          headers.put("Client-Id", r.nextBoolean() ? sessionId : pick(r, List.of("7", "-7",
              "x")));
          headers.put("Request-Id", r.nextBoolean() ? String.valueOf(nextRequestId++)
              : pick(r, List.of("1", "0", "-1", "9223372036854775807", "y")));
        }
      }
    }
    if (r.nextInt(5) == 0) {
      headers.put("Content-Type", pick(r, List.of("application/json", "text/plain",
          "multipart/form-data; boundary=x", "application/x-www-form-urlencoded",
          "application/json; charset=latin1", "\u00e9/\u00e9")));
    }
    byte[] body = body(r, path);
    if (admin && adminAuthorized) {
      body = harmlessAdminBody(r, path, body); // never a change the node would carry out
    }
    return wellFormed(method, target, headers, body, kvAuthorized, adminAuthorized,
        r.nextInt(8) == 0);
  }

  private static String key(Random r) {
    String k = pick(r, KEYS);
    if (r.nextInt(5) == 0) { // percent-encode some characters, upper or lower case
      StringBuilder b = new StringBuilder();
      for (byte c : k.getBytes(StandardCharsets.UTF_8)) {
        b.append(r.nextBoolean() ? String.format(r.nextBoolean() ? "%%%02X" : "%%%02x", c & 0xFF)
            : String.valueOf((char) (c & 0xFF)));
      }
      k = b.toString();
    }
    return k;
  }

  private static byte[] body(Random r, String path) {
    String text = switch (r.nextInt(14)) {
      case 0 -> null;
      case 1 -> "";
      case 2 -> "{";
      case 3 -> pick(r, List.of("[1]", "null", "\"s\"", "1", "true", "{}", "{\"a\":1}{}"));
      case 4 -> pick(r, List.of("{\"expect\":null,\"value\":\"v\"}", "{\"expect\":1}",
          "{\"value\":5,\"expect\":null}", "{\"expect\":\"a\",\"value\":\"b\"}",
          "{\"expect\":null,\"value\":null}", "{\"expect\":[],\"value\":\"x\"}"));
      case 5 -> pick(r, List.of("{\"id\":5}", "{\"id\":\"\"}", "{\"id\":\"a b\",\"address\":"
          + "\"x\"}", "{\"id\":\"n9\",\"address\":5}", "{\"id\":\"n9\",\"address\":\"h:p\"}",
          "{\"id\":null}", "{\"id\":{\"x\":1}}"));
      case 6 -> "[".repeat(3_000) + "]".repeat(3_000);
      case 7 -> "{\"expect\":" + "9".repeat(5_000) + ",\"value\":\"v\"}";
      case 8 -> "x".repeat(MAX_BODY + 1 + r.nextInt(5_000)); // over the limit: 413
      case 9 -> "x".repeat(MAX_BODY - r.nextInt(3));
      case 10 -> {
        byte[] b = new byte[r.nextInt(200)];
        r.nextBytes(b);
        yield "\u0000" + new String(b, StandardCharsets.ISO_8859_1);
      }
      default -> "value-" + r.nextInt(100) + "-\u00e9\u6f22";
    };
    if (text == null) {
      return null;
    }
    if (r.nextInt(10) == 0) { // invalid UTF-8
      byte[] t = text.getBytes(StandardCharsets.UTF_8);
      byte[] out = new byte[t.length + 2];
      System.arraycopy(t, 0, out, 0, t.length);
      out[t.length] = (byte) 0xC3;
      out[t.length + 1] = (byte) 0x28;
      return out;
    }
    return text.getBytes(StandardCharsets.UTF_8);
  }

  /** An admin body the node refuses (or a no-op): no member is added, none removed. */
  private static byte[] harmlessAdminBody(Random r, String path, byte[] body) {
    if (path.startsWith("/cluster/leader")) {
      if (r.nextBoolean()) {
        return ("{\"id\":" + pick(r, List.of("\"n1\"", "\"n2\"", "\"zz\"", "5", "null",
            "\"\"")) + "}").getBytes(StandardCharsets.UTF_8);
      }
      return body;
    }
    if (path.startsWith("/cluster/members") && !path.startsWith("/cluster/members/")) {
      String text = body == null ? "" : new String(body, StandardCharsets.UTF_8);
      if (text.contains("\"address\":\"h:p\"") || text.matches(".*\"address\":\"[^:\"]+:\\d+\".*")) {
        return "{\"id\":\"n9\",\"address\":\"no port\"}".getBytes(StandardCharsets.UTF_8);
      }
    }
    return body;
  }

  /**
   * Bytes that are not a well-formed HTTP/1.1 request; the header section always ends. (Not
   * control characters or blank lines alone: the HTTP decoder skips those before a request line,
   * so the server just goes on waiting for a request on that connection.)
   */
  private static Request notHttp(Random r) {
    String text = pick(r, List.of(
        "GARBAGE\r\n\r\n",
        "GET\r\n\r\n",
        "GET /status\r\n\r\n",
        "GET /status HTTP/9.9\r\nHost: x\r\n\r\n",
        "GET /status HTTP/1.0\r\n\r\n",
        "GET http://127.0.0.1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "GET /status HTTP/1.1\r\nHost: x\r\nNoColonHeader\r\nConnection: close\r\n\r\n",
        "GET /status HTTP/1.1\r\nHost: x\r\nX-Big: " + "y".repeat(20_000)
            + "\r\nConnection: close\r\n\r\n",
        "GET /" + "z".repeat(10_000) + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "PUT /kv/a HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\nConnection: close\r\n\r\n",
        "PUT /kv/a HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\nConnection: close\r\n\r\n",
        "PUT /kv/a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n"
            + "Connection: close\r\n\r\nab",
        "PUT /kv/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n"
            + "\r\nzz\r\nab\r\n0\r\n\r\n",
        "G\u00e9T / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "GET /status HTTP/1.1\r\n Host: folded\r\nConnection: close\r\n\r\n"));
    return new Request("?", "?", text.getBytes(StandardCharsets.UTF_8), false, false, false,
        "not HTTP: " + shorten(text));
  }

  /** A well-formed HTTP/1.1 request with the test's own checked writes' fields. */
  private static Request wellFormed(String method, String target, Map<String, String> headers,
      byte[] body) {
    boolean kv = ("Bearer " + KV).equals(headers.get("Authorization"));
    return wellFormed(method, target, headers, body, kv, false, false);
  }

  private static Request wellFormed(String method, String target, Map<String, String> headers,
      byte[] body, boolean kvAuthorized, boolean adminAuthorized, boolean chunked) {
    StringBuilder head = new StringBuilder();
    head.append(method).append(' ').append(target).append(" HTTP/1.1\r\n")
        .append("Host: 127.0.0.1\r\nConnection: close\r\n");
    headers.forEach((k, v) -> head.append(k).append(": ").append(v).append("\r\n"));
    Buffer bytes = Buffer.buffer();
    if (body != null && chunked) {
      head.append("Transfer-Encoding: chunked\r\n\r\n");
      bytes.appendString(head.toString(), "UTF-8");
      int pos = 0;
      while (pos < body.length) {
        int n = Math.min(body.length - pos, 1 + body.length / 3);
        bytes.appendString(Integer.toHexString(n) + "\r\n").appendBytes(body, pos, n)
            .appendString("\r\n");
        pos += n;
      }
      bytes.appendString("0\r\n\r\n");
    } else {
      if (body != null) {
        head.append("Content-Length: ").append(body.length).append("\r\n");
      }
      head.append("\r\n");
      bytes.appendString(head.toString(), "UTF-8");
      if (body != null) {
        bytes.appendBytes(body);
      }
    }
    boolean strict = method.matches("[!#$%&'*+.^_`|~0-9A-Za-z-]+") && printableAscii(target)
        && target.indexOf(' ') < 0 && headers.values().stream().allMatch(KvHttpFuzzTest::printableAscii);
    return new Request(method, target, bytes.getBytes(), strict, kvAuthorized, adminAuthorized,
        method + " " + shorten(target) + " " + shorten(headers.toString()) + " body "
            + (body == null ? "none" : body.length + " bytes: "
            + shorten(new String(body, StandardCharsets.UTF_8))) + (chunked ? " (chunked)" : ""));
  }

  // ------------------------------------------------------------------------------------------
  // The raw HTTP exchange
  // ------------------------------------------------------------------------------------------

  /**
   * Writes a request on a new connection and reads until the server closes it.
   *
   * @return the answer, or null if the server closed the connection without one
   */
  private Answer exchange(Request req) {
    Future<Buffer> read = net.connect(port, "127.0.0.1").compose(socket -> {
      Promise<Buffer> done = Promise.promise();
      Buffer received = Buffer.buffer();
      socket.handler(received::appendBuffer);
      socket.closeHandler(v -> done.tryComplete(received));
      socket.exceptionHandler(e -> done.tryComplete(received)); // a reset: what came so far
      socket.write(Buffer.buffer(req.bytes()));
      return done.future();
    });
    Buffer all;
    try {
      all = read.await(ANSWER_SECONDS, TimeUnit.SECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      throw new AssertionError("no answer, and the connection still open, after "
          + ANSWER_SECONDS + " s", e);
    } catch (Exception e) {
      throw new AssertionError("connection failed: " + e, e);
    }
    return all.length() == 0 ? null : parse(all.getBytes());
  }

  private static Answer parse(byte[] bytes) {
    String raw = new String(bytes, StandardCharsets.ISO_8859_1);
    int end = raw.indexOf("\r\n\r\n");
    assertTrue(end > 0 && raw.startsWith("HTTP/"), "not an HTTP answer: " + shorten(raw));
    String[] lines = raw.substring(0, end).split("\r\n");
    int status = Integer.parseInt(lines[0].split(" ")[1]);
    Map<String, String> headers = new HashMap<>();
    for (int i = 1; i < lines.length; i++) {
      int colon = lines[i].indexOf(':');
      headers.put(lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT),
          lines[i].substring(colon + 1).trim());
    }
    byte[] body = java.util.Arrays.copyOfRange(bytes, end + 4, bytes.length);
    if ("chunked".equalsIgnoreCase(headers.get("transfer-encoding"))) {
      body = dechunk(body);
    }
    return new Answer(status, headers, body, shorten(raw));
  }

  private static byte[] dechunk(byte[] chunked) {
    Buffer out = Buffer.buffer();
    String s = new String(chunked, StandardCharsets.ISO_8859_1);
    int pos = 0;
    while (pos < s.length()) {
      int eol = s.indexOf("\r\n", pos);
      int n = Integer.parseInt(s.substring(pos, eol).split(";")[0].trim(), 16);
      if (n == 0) {
        break;
      }
      out.appendBytes(chunked, eol + 2, n);
      pos = eol + 2 + n + 2;
    }
    return out.getBytes();
  }

  // ------------------------------------------------------------------------------------------
  // Helpers
  // ------------------------------------------------------------------------------------------

  /** @return true if every character is printable ASCII or a space */
  private static boolean printableAscii(String s) {
    return s.chars().allMatch(c -> c >= 0x20 && c < 0x7F);
  }

  private static boolean pick(Random r, int oneIn) {
    return r.nextInt(oneIn) == 0;
  }

  private static <T> T pick(Random r, List<T> choices) {
    return choices.get(r.nextInt(choices.size()));
  }

  private static String shorten(String s) {
    String t = s.replace("\r", "\\r").replace("\n", "\\n").replace("\u0000", "\\0");
    return t.length() > 300 ? t.substring(0, 300) + "...(" + t.length() + " chars)" : t;
  }
}
