package dev.raftvertx.kv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The sample app's {@code /metrics} (Prometheus format, on the UI port and on every node's port)
 * after some writes, and its admin endpoints' token check.
 */
class KvMetricsTest {

  static final String TOKEN = "metrics-test-token";
  static final Pattern SAMPLE = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{[^}]*\\})? (\\S+)$");

  @TempDir
  Path dir;
  KvMain app;
  // HTTP/1.1: the JDK client's default h2c upgrade can hang against a Vert.x server
  final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(5)).build();

  @BeforeEach
  void start() throws Exception {
    app = new KvMain();
    new CommandLine(app).parseArgs("--ui-port", "0", "--http-port", "0", "--data-dir",
        dir.resolve("data").toString(), "--admin-token", TOKEN, "--cluster-id", "metrics");
    app.start().await(60, TimeUnit.SECONDS);
  }

  @AfterEach
  void stop() throws Exception {
    app.stopAll().await(30, TimeUnit.SECONDS);
  }

  HttpResponse<String> call(int port, String method, String path, String body,
      String authorization) throws IOException, InterruptedException {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
        .timeout(Duration.ofSeconds(20))
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
            : HttpRequest.BodyPublishers.ofString(body));
    if (authorization != null) {
      b.header("Authorization", authorization);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  /** @return every sample as "name{labels}" to value */
  static Map<String, Double> parse(String text) {
    Map<String, Double> out = new LinkedHashMap<>();
    for (String line : text.split("\n")) {
      Matcher m = SAMPLE.matcher(line);
      if (!line.startsWith("#") && m.matches()) {
        out.put(m.group(1) + (m.group(2) == null ? "" : m.group(2)),
            Double.parseDouble(m.group(3)));
      }
    }
    return out;
  }

  static double value(Map<String, Double> samples, String name, String... labels) {
    Double found = null;
    for (Map.Entry<String, Double> e : samples.entrySet()) {
      String k = e.getKey();
      if (!k.equals(name) && !k.startsWith(name + "{")) {
        continue;
      }
      boolean all = true;
      for (String l : labels) {
        all &= k.contains(l);
      }
      if (all) {
        found = (found == null ? 0 : found) + e.getValue();
      }
    }
    assertNotNull(found, "no sample " + name + " " + List.of(labels));
    return found;
  }

  String leader() throws Exception {
    long deadline = System.currentTimeMillis() + 30_000;
    while (System.currentTimeMillis() < deadline) {
      for (String id : List.of("n1", "n2", "n3")) {
        HttpResponse<String> r = call(app.httpPort(id), "GET", "/status", null, null);
        if (r.body().contains("\"role\":\"leader\"")) {
          return id;
        }
      }
      Thread.sleep(50);
    }
    throw new AssertionError("no leader");
  }

  @Test
  void metricsHoldTheRaftMetersWithSensibleValues() throws Exception {
    String leader = leader();
    int writes = 25;
    for (int i = 0; i < writes; i++) {
      HttpResponse<String> r = call(app.httpPort("n" + (1 + i % 3)), "PUT", "/kv/k" + i, "v" + i,
          null);
      assertEquals(200, r.statusCode(), r.body());
    }
    Thread.sleep(300); // a few ticks: gauges and per-peer lag are sampled by the nodes

    HttpResponse<String> ui = call(app.uiPort(), "GET", "/metrics", null, null);
    assertEquals(200, ui.statusCode());
    assertTrue(ui.headers().firstValue("Content-Type").orElse("").startsWith("text/plain"));
    Map<String, Double> m = parse(ui.body());
    String node = "node=\"" + leader + "\"";

    for (String id : List.of("n1", "n2", "n3")) {
      String n = "node=\"" + id + "\"";
      assertTrue(value(m, "raft_term", n) >= 1, "term of " + id);
      assertTrue(value(m, "raft_commit_index", n) >= writes + 2, "commit index of " + id);
      assertTrue(value(m, "raft_applied_index", n) >= writes + 2, "applied index of " + id);
      assertTrue(value(m, "raft_log_entries", n) >= writes + 2, "log entries of " + id);
      assertTrue(value(m, "raft_log_size_bytes", n) > writes * 20, "log bytes of " + id);
      assertEquals(0.0, value(m, "raft_snapshots_total", n), "no snapshots yet");
      assertEquals(0.0, value(m, "raft_snapshot_duration_seconds_count", n));
      assertTrue(value(m, "raft_fsync_latency_seconds_count", n) > 0, "fsyncs of " + id);
      assertTrue(value(m, "raft_storage_batch_entries_count", n) > 0);
      assertEquals(1.0, value(m, "raft_role", n, "role=\"leader\"")
          + value(m, "raft_role", n, "role=\"follower\""), "one role at a time");
    }
    assertEquals(1.0, value(m, "raft_role", "role=\"leader\""), "one leader");
    assertEquals(1.0, value(m, "raft_role", node, "role=\"leader\""));
    assertEquals((double) writes, value(m, "raft_proposals_total", "outcome=\"committed\""),
        "each write is one committed proposal on the node it was sent to");
    assertEquals(0.0, value(m, "raft_proposals_total", "outcome=\"failed\""));
    assertEquals((double) writes, value(m, "raft_proposal_latency_seconds_count"));
    double latencySum = value(m, "raft_proposal_latency_seconds_sum");
    assertTrue(latencySum > 0 && latencySum / writes < 5, "mean latency " + latencySum / writes);
    assertTrue(value(m, "raft_proposal_latency_seconds_bucket", "le=\"+Inf\"") >= writes);
    assertTrue(value(m, "raft_append_entries_sent_total", node) > writes);
    assertTrue(value(m, "raft_append_batch_entries_count", node) > 0);
    assertTrue(value(m, "raft_append_entries_rejected_total") >= 0);
    assertTrue(value(m, "raft_elections_started_total") >= 1);
    assertTrue(value(m, "raft_elections_won_total", node) >= 1);
    for (String peer : List.of("n1", "n2", "n3")) {
      if (!peer.equals(leader)) {
        double lag = value(m, "raft_replication_lag_entries", node, "peer=\"" + peer + "\"");
        assertTrue(lag >= 0 && lag <= writes, "lag of " + peer + ": " + lag);
      }
    }
    assertTrue(value(m, "raft_transport_messages_total", node, "direction=\"sent\"") > writes);
    assertTrue(value(m, "raft_transport_messages_total", "direction=\"received\"") > writes);
    assertEquals(0.0, value(m, "raft_transport_rejected_total", "reason=\"sender\""),
        "no foreign sender in a healthy cluster");
    assertTrue(value(m, "raft_transport_dropped_total", "reason=\"queue_full\"") >= 0);
    assertTrue(value(m, "vertx_eventbus_processed_total") > 0, "Vert.x event-bus metrics");
    assertTrue(value(m, "vertx_http_server_requests_total") >= writes, "Vert.x HTTP metrics");

    for (String id : List.of("n1", "n2", "n3")) {
      HttpResponse<String> r = call(app.httpPort(id), "GET", "/metrics", null, null);
      assertEquals(200, r.statusCode());
      assertTrue(value(parse(r.body()), "raft_commit_index", "node=\"" + id + "\"") >= writes,
          "/metrics on " + id + "'s port");
    }
  }

  @Test
  void adminEndpointsRefuseAMissingOrWrongToken() throws Exception {
    leader();
    for (String path : List.of("/api/nodes/n1/stop", "/api/nodes/n1/partition",
        "/api/propose")) {
      HttpResponse<String> none = call(app.uiPort(), "POST", path, "{\"value\":\"a=b\"}", null);
      assertEquals(401, none.statusCode(), path);
      assertTrue(none.body().contains("\"code\":\"UNAUTHORIZED\""), none.body());
      HttpResponse<String> wrong = call(app.uiPort(), "POST", path, "{\"value\":\"a=b\"}",
          "Bearer nope");
      assertEquals(401, wrong.statusCode(), path);
      assertTrue(wrong.body().contains("invalid admin token"), wrong.body());
    }
    HttpResponse<String> bad = call(app.uiPort(), "POST", "/api/propose",
        "{\"value\":\"no equals sign\"}", "Bearer " + TOKEN);
    assertEquals(400, bad.statusCode(), bad.body());
    HttpResponse<String> ok = call(app.uiPort(), "POST", "/api/propose", "{\"value\":\"a=b\"}",
        "Bearer " + TOKEN);
    assertEquals(200, ok.statusCode(), ok.body());
    assertEquals("b", call(app.httpPort("n2"), "GET", "/kv/a", null, null).body());
  }
}
