package dev.raftvertx.kv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three sample-app processes (separate JVMs) over the TCP event-bus bridge on 127.0.0.1: the
 * leader is killed with SIGKILL and restarted, and no acknowledged write is lost.
 */
class ProcessClusterTest {

  @TempDir
  Path dir;
  final Map<String, Process> processes = new LinkedHashMap<>();
  final Map<String, Integer> httpPorts = new LinkedHashMap<>();
  String peers;
  // HTTP/1.1: the JDK client's default h2c upgrade can hang against a Vert.x server
  final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(2)).build();

  static int freePort() {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  static final String TOKEN = "proc-token";

  void start(String id, String... extra) throws IOException {
    String java = ProcessHandle.current().info().command().orElse("java");
    List<String> cmd = new ArrayList<>(List.of(java, "-Xmx256m", "-cp",
        System.getProperty("java.class.path"), KvMain.class.getName(), "--id", id, "--peers", peers,
        "--http-port", String.valueOf(httpPorts.get(id)), "--data-dir",
        dir.resolve(id).toString(), "--cluster-id", "proc", "--admin-token", TOKEN));
    cmd.addAll(List.of(extra));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve(id + ".log").toFile()))
        .start();
    processes.put(id, p);
  }

  @AfterEach
  void stopAll() {
    processes.values().forEach(Process::destroyForcibly);
  }

  HttpResponse<String> call(String id, String method, String path, String body) {
    try {
      HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
          + httpPorts.get(id) + path)).timeout(Duration.ofSeconds(70))
          .header("Authorization", "Bearer " + TOKEN);
      b.method(method, body == null ? HttpRequest.BodyPublishers.noBody()
          : HttpRequest.BodyPublishers.ofString(body));
      return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    } catch (IOException e) {
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  String awaitLeader(List<String> among) throws InterruptedException {
    long deadline = System.currentTimeMillis() + 60_000;
    while (System.currentTimeMillis() < deadline) {
      for (String id : among) {
        HttpResponse<String> r = call(id, "GET", "/status", null);
        if (r != null && r.statusCode() == 200
            && r.body().contains("\"role\":\"leader\"")) {
          return id;
        }
      }
      Thread.sleep(100);
    }
    throw new AssertionError("no leader among " + among + "; logs in " + dir);
  }

  /** Writes until acknowledged (retrying 503s elsewhere); returns false if never. */
  boolean write(List<String> among, String key, String value) throws InterruptedException {
    long deadline = System.currentTimeMillis() + 30_000;
    int i = 0;
    while (System.currentTimeMillis() < deadline) {
      HttpResponse<String> r = call(among.get(i++ % among.size()), "PUT", "/kv/" + key, value);
      if (r != null && r.statusCode() == 200) {
        return true;
      }
      Thread.sleep(50);
    }
    return false;
  }

  @Test
  void killingTheLeaderProcessLosesNoAcknowledgedWrite() throws Exception {
    List<String> ids = List.of("n1", "n2", "n3");
    StringBuilder sb = new StringBuilder();
    for (String id : ids) {
      httpPorts.put(id, freePort());
      sb.append(sb.length() == 0 ? "" : ",").append(id).append("=127.0.0.1:").append(freePort());
    }
    peers = sb.toString();
    for (String id : ids) {
      start(id);
    }
    String leader = awaitLeader(ids);
    Map<String, String> acked = new LinkedHashMap<>();
    for (int i = 0; i < 30; i++) {
      if (write(ids, "k" + i, "v" + i)) {
        acked.put("k" + i, "v" + i);
      }
    }
    assertEquals(30, acked.size(), "a healthy cluster acknowledges every write");

    processes.get(leader).destroyForcibly().waitFor(); // SIGKILL
    List<String> survivors = ids.stream().filter(id -> !id.equals(leader)).toList();
    awaitLeader(survivors);
    for (int i = 30; i < 40; i++) {
      if (write(survivors, "k" + i, "v" + i)) {
        acked.put("k" + i, "v" + i);
      }
    }
    start(leader);
    awaitLeader(ids);
    for (String id : ids) {
      for (Map.Entry<String, String> e : acked.entrySet()) {
        HttpResponse<String> r = null;
        long deadline = System.currentTimeMillis() + 30_000;
        while ((r == null || r.statusCode() != 200) && System.currentTimeMillis() < deadline) {
          r = call(id, "GET", "/kv/" + e.getKey(), null);
          if (r == null || r.statusCode() != 200) {
            Thread.sleep(100);
          }
        }
        assertTrue(r != null && r.statusCode() == 200, id + " lost " + e.getKey() + "; logs in "
            + dir + ": " + (r == null ? "no answer" : r.body()) + tail(id));
        assertEquals(e.getValue(), r.body());
      }
    }
  }

  @Test
  void addAFourthProcessTransferLeadershipToItAndRemoveTheOldLeader() throws Exception {
    List<String> ids = List.of("n1", "n2", "n3");
    Map<String, String> bridge = new LinkedHashMap<>();
    for (String id : List.of("n1", "n2", "n3", "n4")) {
      httpPorts.put(id, freePort());
      bridge.put(id, "127.0.0.1:" + freePort());
    }
    peers = "n1=" + bridge.get("n1") + ",n2=" + bridge.get("n2") + ",n3=" + bridge.get("n3");
    for (String id : ids) {
      // the log is compacted before n4 joins, so n4 needs a snapshot
      start(id, "--snapshot-entries", "25", "--snapshot-trailing", "0");
    }
    awaitLeader(ids);
    Map<String, String> acked = new LinkedHashMap<>();
    for (int i = 0; i < 60; i++) {
      if (write(ids, "m" + i, "v" + i)) {
        acked.put("m" + i, "v" + i);
      }
    }
    peers = peers + ",n4=" + bridge.get("n4");
    start("n4", "--join", "--snapshot-entries", "25", "--snapshot-trailing", "0");
    HttpResponse<String> added = admin(ids, "POST", "/cluster/members",
        "{\"id\": \"n4\", \"address\": \"" + bridge.get("n4") + "\"}");
    assertEquals(200, added.statusCode(), added.body());
    assertTrue(added.body().contains("\"n4\""), added.body());
    // On a loaded machine a transfer can lose to a competing election: retry it like an operator.
    List<String> all = List.of("n1", "n2", "n3", "n4");
    String oldLeader = awaitLeader(all);
    String current = oldLeader;
    for (int attempt = 0; attempt < 10 && !current.equals("n4"); attempt++) {
      admin(all, "POST", "/cluster/leader", "{\"id\": \"n4\"}");
      current = awaitLeader(all);
    }
    assertEquals("n4", current, "leadership moved to the new node" + tail("n4"));
    assertTrue(Files.readString(dir.resolve("n4.log")).contains("installed snapshot"),
        "n4 caught up through a snapshot" + tail("n4"));
    String removedId = oldLeader;
    HttpResponse<String> removed = admin(all, "DELETE", "/cluster/members/" + removedId, null);
    assertEquals(200, removed.statusCode(), removed.body());
    processes.get(oldLeader).destroy();
    List<String> rest = all.stream().filter(id -> !id.equals(oldLeader)).toList();
    assertTrue(write(rest, "after", "yes"));
    acked.put("after", "yes");
    for (String id : rest) {
      for (Map.Entry<String, String> e : acked.entrySet()) {
        HttpResponse<String> r = call(id, "GET", "/kv/" + e.getKey(), null);
        for (int i = 0; i < 30 && r.statusCode() == 503; i++) { // unknown outcome: retry the read
          r = call(id, "GET", "/kv/" + e.getKey(), null);
        }
        assertEquals(200, r.statusCode(), id + " " + e.getKey() + ": " + r.body() + tail(id)
            + "\n--- n4:" + tail("n4"));
        assertEquals(e.getValue(), r.body());
      }
    }
  }

  /**
   * An admin call sent to whoever leads now, retried while the answer is 503 (no or another
   * leader) or 409 (another change in progress), as an operator's client does.
   */
  HttpResponse<String> admin(List<String> among, String method, String path, String body)
      throws InterruptedException {
    long deadline = System.currentTimeMillis() + 60_000;
    HttpResponse<String> r = null;
    while (System.currentTimeMillis() < deadline) {
      r = call(awaitLeader(among), method, path, body);
      if (r != null && r.statusCode() != 503 && r.statusCode() != 409) {
        return r;
      }
      Thread.sleep(100);
    }
    return r;
  }

  @Test
  void sigtermStopsTheNodeCleanly() throws Exception {
    httpPorts.put("solo", freePort());
    peers = "solo=127.0.0.1:" + freePort();
    start("solo");
    awaitLeader(List.of("solo"));
    assertTrue(write(List.of("solo"), "k", "v"));
    Process p = processes.get("solo");
    p.destroy(); // SIGTERM
    assertTrue(p.waitFor(20, java.util.concurrent.TimeUnit.SECONDS), "exits after SIGTERM");
    String log = Files.readString(dir.resolve("solo.log"));
    assertTrue(log.contains("node solo stopped"), "the node stopped cleanly:\n" + log);
    // the log was closed cleanly: the node restarts from it with the write
    start("solo");
    awaitLeader(List.of("solo"));
    HttpResponse<String> r = call("solo", "GET", "/kv/k", null);
    assertEquals("v", r.body());
  }

  private String tail(String id) throws IOException {
    Path log = dir.resolve(id + ".log");
    if (!Files.exists(log)) {
      return "";
    }
    List<String> lines = Files.readAllLines(log);
    return "\n" + String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
  }
}
