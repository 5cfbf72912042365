package dev.raftvertx.kv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * A real browser against the running sample app: Debian's Chromium (headless), driven by
 * {@code src/test/js/browser-test.mjs} with playwright-core (installed by the build's
 * {@code npm ci}). The page shows three nodes and one leader; the leader stopped through the UI
 * gives way to a new leader in a higher term; a value proposed through the UI shows up, committed,
 * in every node's log view; partition and heal work; the page keeps rendering under a burst of
 * writes. Saves a screenshot to {@code target/webui.png}.
 *
 * <p>Never skipped: without Chromium or the npm packages it fails and says how to install them.
 */
class WebUiBrowserTest {

  @TempDir
  Path dir;
  KvMain app;

  @AfterEach
  void stop() throws Exception {
    if (app != null) {
      app.stopAll().await(30, TimeUnit.SECONDS);
    }
  }

  @Test
  void theBrowserWatchesAndDrivesTheLiveCluster() throws Exception {
    Path chromium = Path.of(System.getProperty("raft.chromium", "/usr/bin/chromium"));
    assertTrue(Files.isExecutable(chromium), "the browser test needs Chromium at " + chromium
        + ": install it with 'apt-get update && apt-get install -y chromium' (.ci/run does)");
    assertTrue(Files.isDirectory(Path.of("node_modules", "playwright-core")),
        "playwright-core is missing: the build installs it with 'npm ci' in sample-app"
            + " (phase generate-test-resources); by hand: cd sample-app && npm ci");
    Path script = Path.of("src", "test", "js", "browser-test.mjs").toAbsolutePath();

    String token = "browser-" + Long.toHexString(System.nanoTime());
    app = new KvMain();
    new CommandLine(app).parseArgs("--ui-port", "0", "--http-port", "0", "--data-dir",
        dir.resolve("data").toString(), "--admin-token", token, "--cluster-id", "browser");
    app.start().await(60, TimeUnit.SECONDS);

    Path screenshot = Path.of("target", "webui.png").toAbsolutePath();
    Files.createDirectories(screenshot.getParent());
    Path output = dir.resolve("browser-test.log");
    ProcessBuilder pb = new ProcessBuilder("node", script.toString())
        .redirectErrorStream(true).redirectOutput(output.toFile());
    Map<String, String> env = pb.environment();
    env.put("UI_URL", "http://127.0.0.1:" + app.uiPort() + "/");
    env.put("ADMIN_TOKEN", token);
    env.put("KV_URLS", "http://127.0.0.1:" + app.httpPort("n1") + ",http://127.0.0.1:"
        + app.httpPort("n2") + ",http://127.0.0.1:" + app.httpPort("n3"));
    env.put("SCREENSHOT", screenshot.toString());
    env.put("CHROMIUM", chromium.toString());
    Process p;
    try {
      p = pb.start();
    } catch (java.io.IOException e) {
      throw new AssertionError("cannot run 'node' (Node.js 20 or later is needed for the browser"
          + " test): " + e.getMessage(), e);
    }
    boolean finished = p.waitFor(270, TimeUnit.SECONDS);
    if (!finished) {
      p.destroyForcibly().waitFor();
    }
    String out = Files.readString(output);
    System.out.println(out);
    assertTrue(finished, "the browser test did not finish within 270 s:\n" + out);
    assertEquals(0, p.exitValue(), "the browser test failed:\n" + out);
    assertTrue(out.contains("all checks passed"), out);
    assertTrue(Files.size(screenshot) > 10_000, "a screenshot was saved");
  }
}
