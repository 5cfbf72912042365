package dev.raftvertx.kv.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.raftvertx.kv.KvMain;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code sample-app bench} end to end with tiny settings, as a user runs it (its own JVM): it
 * prints a well-formed RESULT line, and leaves no node process and no work directory behind,
 * also when it is stopped with SIGTERM (what Ctrl-C does) in the middle of a run.
 */
class BenchCommandTest {

  static final Pattern RESULT = Pattern.compile("^RESULT system=raft-vertx mode=remote op=write"
      + " consistency=- nodes=3 clients=1 payload=100 ops_per_s=(\\d+) p50_us=(\\d+)"
      + " p99_us=(\\d+) p999_us=(\\d+) cpu_cores=(\\d+\\.\\d+) cpu_ms_per_kop=(\\d+)( .*)?$");
  static final Pattern PIDS = Pattern.compile("^INFO nodes \\[.*\\] pids \\[([\\d, ]+)\\]");

  @TempDir
  Path work;

  /** The bench as a child JVM, its output collected line by line. */
  static final class BenchProcess {
    final Process process;
    final List<String> lines = java.util.Collections.synchronizedList(new ArrayList<>());
    final CompletableFuture<Void> ready = new CompletableFuture<>();
    final Thread reader;

    BenchProcess(Path workParent, String... args) throws IOException {
      String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
      List<String> cmd = new ArrayList<>(List.of(java, "-Xmx256m", "-cp",
          System.getProperty("java.class.path"), KvMain.class.getName(), "bench",
          "--work-dir", workParent.toString(), "--node-jvm-opts", "-Xms128m -Xmx256m"));
      cmd.addAll(List.of(args));
      process = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      reader = new Thread(() -> {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(
            process.getInputStream(), StandardCharsets.UTF_8))) {
          for (String line; (line = r.readLine()) != null; ) {
            lines.add(line);
            if (line.startsWith("INFO cluster ready")) {
              ready.complete(null);
            }
          }
        } catch (IOException e) {
          // the process ended
        }
      });
      reader.start();
    }

    int await(long seconds) throws InterruptedException {
      if (!process.waitFor(seconds, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        throw new AssertionError("bench did not finish in " + seconds + " s:\n" + output());
      }
      reader.join(5000);
      return process.exitValue();
    }

    String output() {
      synchronized (lines) {
        return String.join("\n", lines);
      }
    }

    List<Long> nodePids() {
      synchronized (lines) {
        for (String l : lines) {
          Matcher m = PIDS.matcher(l);
          if (m.find()) {
            return Stream.of(m.group(1).split(",\\s*")).map(Long::parseLong).toList();
          }
        }
      }
      throw new AssertionError("no node pids printed:\n" + output());
    }
  }

  static void assertNothingLeft(List<Long> pids, Path workParent, String output)
      throws Exception {
    assertEquals(3, pids.size(), output);
    for (long pid : pids) {
      assertFalse(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false),
          "node process " + pid + " still runs:\n" + output);
    }
    try (Stream<Path> left = Files.list(workParent)) {
      assertEquals(List.of(), left.toList(), "work directory left behind:\n" + output);
    }
  }

  @Test
  void tinyRunPrintsAResultLineAndLeavesNothingBehind() throws Exception {
    BenchProcess bench = new BenchProcess(work, "--duration", "1", "--warmup", "1",
        "--initial-warmup", "0", "--clients", "1", "--op", "write", "--mode", "remote");
    int code = bench.await(90);
    String out = bench.output();
    assertEquals(0, code, out);
    List<String> results = bench.lines.stream().filter(l -> l.startsWith("RESULT")).toList();
    assertEquals(1, results.size(), out);
    Matcher m = RESULT.matcher(results.get(0));
    assertTrue(m.matches(), "malformed: " + results.get(0));
    assertTrue(Long.parseLong(m.group(1)) > 0, "no operation measured: " + results.get(0));
    long p50 = Long.parseLong(m.group(2));
    long p99 = Long.parseLong(m.group(3));
    long p999 = Long.parseLong(m.group(4));
    assertTrue(0 < p50 && p50 <= p99 && p99 <= p999, results.get(0));
    assertTrue(Double.parseDouble(m.group(5)) > 0, "no CPU time measured: " + results.get(0));
    assertTrue(out.contains("remote   write -                1"), "no table row:\n" + out);
    assertTrue(out.contains("INFO remote client protocol BINARY"), "the default client:\n" + out);
    assertNothingLeft(bench.nodePids(), work, out);
  }

  @Test
  void httpClientProtocolWritesAndReads() throws Exception {
    BenchProcess bench = new BenchProcess(work, "--duration", "1", "--warmup", "1",
        "--initial-warmup", "0", "--clients", "4", "--op", "both", "--consistency",
        "linearizable", "--mode", "remote", "--client-protocol", "HTTP_1_1");
    int code = bench.await(90);
    String out = bench.output();
    assertEquals(0, code, out);
    assertTrue(out.contains("INFO remote client protocol HTTP_1_1"), out);
    List<String> results = bench.lines.stream().filter(l -> l.startsWith("RESULT")).toList();
    assertEquals(2, results.size(), out);
    Pattern ops = Pattern.compile("^RESULT system=raft-vertx mode=remote op=(write|read)"
        + " consistency=(-|linearizable) nodes=3 clients=4 payload=100 ops_per_s=(\\d+) .*"
        + " errors=(\\d+) .*$");
    for (String r : results) {
      Matcher m = ops.matcher(r);
      assertTrue(m.matches(), "malformed: " + r);
      assertTrue(Long.parseLong(m.group(3)) > 0, "no operation measured: " + r);
    }
    assertTrue(results.get(0).contains("op=write") && results.get(1).contains("op=read"), out);
    assertNothingLeft(bench.nodePids(), work, out);
  }

  @Test
  void sigtermInTheMiddleStopsTheNodesAndDeletesTheWorkDirectory() throws Exception {
    BenchProcess bench = new BenchProcess(work, "--duration", "60", "--warmup", "0",
        "--initial-warmup", "0", "--clients", "1", "--op", "write", "--mode", "remote");
    bench.ready.get(60, TimeUnit.SECONDS);
    List<Long> pids = bench.nodePids();
    bench.process.destroy(); // SIGTERM
    bench.await(30);
    assertNothingLeft(pids, work, bench.output());
  }
}
