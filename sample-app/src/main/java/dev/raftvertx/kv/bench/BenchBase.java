package dev.raftvertx.kv.bench;

import io.vertx.core.Vertx;
import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Option;

/**
 * What the benchmark commands share: a fresh work directory, the node processes, a Vert.x for the
 * client side, and a clean-up that runs on success, on failure and on Ctrl-C (a shutdown hook):
 * it stops every process it started and deletes the work directory.
 */
abstract class BenchBase {

  @Option(names = "--work-dir", description = "where the temporary work directory is made"
      + " (default: the system temp directory)")
  Path workParent;

  @Option(names = "--keep-work", description = "keep the work directory (data, node logs)")
  boolean keepWork;

  @Option(names = "--node-jvm-opts", defaultValue = "-Xms512m -Xmx512m -XX:+UseG1GC"
      + " -XX:+ExitOnOutOfMemoryError", description = "JVM options of each node process"
      + " (default: ${DEFAULT-VALUE}, as the peers' benchmarks); {id} stands for the node id,"
      + " e.g. -XX:StartFlightRecording=filename=/tmp/{id}.jfr")
  String nodeJvmOptions;

  @Option(names = "--node-arg", description = "an extra sample-app option for every node,"
      + " e.g. --node-arg=--election-timeout-ms=300 (repeatable)")
  List<String> nodeArgs = new ArrayList<>();

  @Option(names = "--kv-token", description = "a key-value token: every node requires it and"
      + " the client sends it (default: $RAFT_KV_TOKEN, which the nodes inherit, else none)")
  String kvToken;

  Path work;
  LocalCluster cluster;
  Vertx vertx;
  private boolean cleaned;

  /** Makes the work directory and installs the clean-up hook. */
  void prepare(String prefix) throws IOException {
    Path parent = workParent != null ? workParent : Path.of(System.getProperty("java.io.tmpdir"));
    Files.createDirectories(parent);
    work = Files.createTempDirectory(parent, prefix);
    Runtime.getRuntime().addShutdownHook(new Thread(this::cleanUp, "bench-cleanup"));
    System.out.println("INFO work=" + work + " java=" + System.getProperty("java.vm.name") + " "
        + Runtime.version() + " cores=" + Runtime.getRuntime().availableProcessors()
        + " loadavg=" + CpuProbe.loadAverages());
  }

  /** @return the key-value token of the nodes and the client, or null for none */
  String kvToken() {
    if (kvToken != null && !kvToken.isBlank()) {
      return kvToken;
    }
    String env = System.getenv("RAFT_KV_TOKEN");
    return env != null && !env.isBlank() ? env : null;
  }

  /** @return the JVM options of node processes, split */
  List<String> jvmOptions() {
    return Arrays.stream(nodeJvmOptions.trim().split("\\s+")).filter(s -> !s.isEmpty()).toList();
  }

  /** Stops everything this command started and deletes its work directory; runs once. */
  synchronized void cleanUp() {
    if (cleaned) {
      return;
    }
    cleaned = true;
    if (cluster != null) {
      cluster.close();
    }
    if (vertx != null) {
      try {
        vertx.close().await(10, TimeUnit.SECONDS);
      } catch (Exception e) {
        // exiting anyway
      }
    }
    if (work != null) {
      if (keepWork) {
        System.out.println("INFO kept " + work);
      } else {
        deleteTree(work);
      }
    }
  }

  static void deleteTree(Path root) {
    if (!Files.exists(root)) {
      return;
    }
    try {
      Files.walkFileTree(root, new SimpleFileVisitor<>() {
        @Override
        public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
          Files.deleteIfExists(file);
          return FileVisitResult.CONTINUE;
        }

        @Override
        public FileVisitResult postVisitDirectory(Path dir, IOException e) throws IOException {
          Files.deleteIfExists(dir);
          return FileVisitResult.CONTINUE;
        }
      });
    } catch (IOException e) {
      System.err.println("could not delete " + root + ": " + e);
    }
  }

  /** Prints the last lines of every node's log (after a failure). */
  void printNodeLogs() {
    if (cluster == null) {
      return;
    }
    for (String id : cluster.ids()) {
      System.err.println("---- last lines of " + id + "'s log:\n" + cluster.tail(id, 15));
    }
  }
}
