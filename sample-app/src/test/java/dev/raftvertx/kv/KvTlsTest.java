package dev.raftvertx.kv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.raftvertx.TlsOptions;
import dev.raftvertx.testing.TestPki;
import io.vertx.core.Future;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The sample app's --tls-cert, --tls-key and --tls-ca: three nodes, each a KvMain of its own (own
 * Vert.x instance) in this JVM, talk TLS with certificates of a CA made at test time.
 */
class KvTlsTest {

  static final String TOKEN = "tls-token";

  @TempDir
  Path dir;
  final List<KvMain> apps = new ArrayList<>();
  final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(5)).build();

  @AfterEach
  void stop() throws Exception {
    for (KvMain app : apps) {
      app.stopAll().await(30, TimeUnit.SECONDS);
    }
  }

  static int freePort() {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  static KvMain parse(String... args) {
    KvMain app = new KvMain();
    new CommandLine(app).parseArgs(args);
    return app;
  }

  HttpResponse<String> call(int port, String method, String path, String body) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
        .timeout(Duration.ofSeconds(20))
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
            : HttpRequest.BodyPublishers.ofString(body));
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void threeNodesOverTlsElectALeaderAndReplicate() throws Exception {
    TestPki ca = TestPki.create("kv test CA");
    Map<String, String> bridges = new LinkedHashMap<>();
    for (String id : List.of("n1", "n2", "n3")) {
      bridges.put(id, "127.0.0.1:" + freePort());
    }
    String peers = bridges.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue())
        .collect(Collectors.joining(","));
    for (String id : bridges.keySet()) {
      TlsOptions files = ca.writeFiles(dir.resolve("tls").resolve(id), id);
      KvMain app = parse("--id", id, "--peers", peers, "--http-port", "0",
          "--data-dir", dir.resolve(id).toString(), "--admin-token", TOKEN,
          "--cluster-id", "kvtls", "--tls-cert", files.getCertPath(),
          "--tls-key", files.getKeyPath(), "--tls-ca", files.getCaPath());
      apps.add(app);
      app.start().await(60, TimeUnit.SECONDS);
    }
    int n1 = apps.get(0).httpPort("n1");
    int n3 = apps.get(2).httpPort("n3");
    // Until a leader is elected a write answers 503; retry like a client.
    HttpResponse<String> put = null;
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (System.nanoTime() < deadline) {
      put = call(n1, "PUT", "/kv/secret", "kept");
      if (put.statusCode() == 200) {
        break;
      }
      Thread.sleep(100);
    }
    assertEquals(200, put.statusCode(), put.body());
    HttpResponse<String> get = call(n3, "GET", "/kv/secret", null);
    assertEquals(200, get.statusCode(), get.body());
    assertEquals("kept", get.body());
  }

  @Test
  void tlsFlagsMustComeTogetherAndOnlyForAClusterOfProcesses() throws Exception {
    assertNull(parse("--id", "n1").tlsOptions());
    TlsOptions tls = parse("--tls-cert", "n1.crt", "--tls-key", "n1.key", "--tls-ca", "ca.crt")
        .tlsOptions();
    assertEquals("n1.crt", tls.getCertPath());
    assertEquals("n1.key", tls.getKeyPath());
    assertEquals("ca.crt", tls.getCaPath());

    KvMain partial = parse("--id", "n1", "--peers", "n1=127.0.0.1:" + freePort(),
        "--http-port", "0", "--data-dir", dir.resolve("p").toString(), "--admin-token", TOKEN,
        "--tls-cert", "n1.crt", "--tls-ca", "ca.crt");
    apps.add(partial);
    assertFails(partial.start(), "private key");

    KvMain embedded = parse("--http-port", "0", "--ui-port", "0", "--data-dir",
        dir.resolve("e").toString(), "--admin-token", TOKEN, "--tls-cert", "n1.crt",
        "--tls-key", "n1.key", "--tls-ca", "ca.crt");
    apps.add(embedded);
    assertFails(embedded.start(), "--id");
  }

  private static void assertFails(Future<?> f, String mentions) {
    assertThrows(Exception.class, () -> f.await(30, TimeUnit.SECONDS));
    assertTrue(String.valueOf(f.cause()).contains(mentions), String.valueOf(f.cause()));
  }
}
