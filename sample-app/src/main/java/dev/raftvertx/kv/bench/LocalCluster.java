package dev.raftvertx.kv.bench;

import dev.raftvertx.kv.KvMain;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Node processes of one cluster on 127.0.0.1, each a JVM running {@link KvMain} with its own data
 * directory under a work directory and the TCP bridge between them, as a user would start them.
 * Every process it starts is stopped by {@link #close()}.
 */
final class LocalCluster implements AutoCloseable {

  /** One node's ports and files. */
  record Node(String id, int httpPort, int bridgePort, int agentPort, int clientPort,
      Path dataDir, Path log) {
    String http() {
      return "127.0.0.1:" + httpPort;
    }

    /** @return the address of the node's binary client API */
    String client() {
      return "127.0.0.1:" + clientPort;
    }
  }

  private final Path work;
  private final List<String> jvmOptions;
  private final List<String> nodeArgs;
  private final String peers;
  private final Map<String, Node> nodes = new LinkedHashMap<>();
  private final Map<String, Process> processes = Collections.synchronizedMap(new LinkedHashMap<>());
  private final String adminToken = Long.toHexString(Double.doubleToLongBits(Math.random()));
  private String kvToken;

  /**
   * @param work the work directory (data directories and logs go there)
   * @param size the number of nodes (n1 ... nN)
   * @param jvmOptions JVM options of every node process
   * @param nodeArgs extra {@link KvMain} options of every node
   * @throws IOException if no free port can be had
   */
  LocalCluster(Path work, int size, List<String> jvmOptions, List<String> nodeArgs)
      throws IOException {
    this.work = work;
    this.jvmOptions = List.copyOf(jvmOptions);
    this.nodeArgs = List.copyOf(nodeArgs);
    int[] ports = freePorts(4 * size);
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < size; i++) {
      String id = "n" + (i + 1);
      Node n = new Node(id, ports[4 * i], ports[4 * i + 1], ports[4 * i + 2], ports[4 * i + 3],
          work.resolve(id), work.resolve(id + ".log"));
      nodes.put(id, n);
      sb.append(i == 0 ? "" : ",").append(id).append("=127.0.0.1:").append(n.bridgePort());
    }
    peers = sb.toString();
  }

  private static int[] freePorts(int count) throws IOException {
    List<ServerSocket> held = new ArrayList<>();
    try {
      int[] ports = new int[count];
      for (int i = 0; i < count; i++) {
        ServerSocket s = new ServerSocket(0);
        held.add(s);
        ports[i] = s.getLocalPort();
      }
      return ports;
    } finally {
      for (ServerSocket s : held) {
        s.close();
      }
    }
  }

  /** @return the node ids */
  List<String> ids() {
    return List.copyOf(nodes.keySet());
  }

  /** @return a node */
  Node node(String id) {
    return nodes.get(id);
  }

  /** @return the HTTP address ("127.0.0.1:port") of every node */
  List<String> httpEndpoints() {
    return nodes.values().stream().map(Node::http).toList();
  }

  /** @return the binary client address ("127.0.0.1:port") of every node */
  List<String> clientEndpoints() {
    return nodes.values().stream().map(Node::client).toList();
  }

  /**
   * @param endpoint an HTTP address
   * @return the id of the node serving it, or null
   */
  String idOf(String endpoint) {
    for (Node n : nodes.values()) {
      if (n.http().equals(endpoint)) {
        return n.id();
      }
    }
    return null;
  }

  /** Starts every node. */
  void startAll() throws IOException {
    for (String id : nodes.keySet()) {
      start(id);
    }
  }

  /**
   * Starts (or restarts, with the same data directory) one node process.
   *
   * @param id the node
   * @throws IOException if the process cannot start
   */
  /**
   * @param token the key-value token every node requires (passed in its environment as
   *     {@code RAFT_KV_TOKEN}, not on its command line), or null to leave it as inherited
   * @return a reference to this, so the API can be used fluently
   */
  LocalCluster kvToken(String token) {
    this.kvToken = token;
    return this;
  }

  void start(String id) throws IOException {
    Node n = nodes.get(id);
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> cmd = new ArrayList<>();
    cmd.add(java);
    for (String o : jvmOptions) {
      cmd.add(o.replace("{id}", id)); // e.g. -XX:StartFlightRecording=filename=/tmp/{id}.jfr
    }
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), KvMain.class.getName(),
        "--id", id, "--peers", peers, "--http-port", String.valueOf(n.httpPort()),
        "--data-dir", n.dataDir().toString(), "--cluster-id", "raft-bench",
        "--admin-token", adminToken, "--bench-agent-port", String.valueOf(n.agentPort()),
        "--client-port", String.valueOf(n.clientPort())));
    cmd.addAll(nodeArgs);
    // Standard input stays a pipe from this process: the node's agent exits when it closes.
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(n.log().toFile()));
    if (kvToken != null) {
      pb.environment().put("RAFT_KV_TOKEN", kvToken);
    }
    Process p = pb.start();
    processes.put(id, p);
  }

  /**
   * Kills a node with SIGKILL and waits until it is gone.
   *
   * @param id the node
   */
  void kill(String id) throws InterruptedException {
    Process p = processes.remove(id);
    if (p != null) {
      p.destroyForcibly();
      p.waitFor(10, TimeUnit.SECONDS);
    }
  }

  /** @return the live process of a node, or null */
  Process process(String id) {
    Process p = processes.get(id);
    return p != null && p.isAlive() ? p : null;
  }

  /**
   * @param id a node
   * @return the exit code of its process if it ended on its own (it was neither killed nor
   *     closed), else null
   */
  Integer exitedOnItsOwn(String id) {
    Process p = processes.get(id);
    return p != null && !p.isAlive() ? p.exitValue() : null;
  }

  /** @return the pids of the node processes started and not killed */
  List<Long> pids() {
    synchronized (processes) {
      return processes.values().stream().map(Process::pid).toList();
    }
  }

  /**
   * @param id a node
   * @param lines how many
   * @return the last lines of its log, for diagnostics
   */
  String tail(String id, int lines) {
    try {
      List<String> all = Files.readAllLines(nodes.get(id).log(), StandardCharsets.UTF_8);
      return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    } catch (IOException | RuntimeException e) {
      return "(no log: " + e + ")";
    }
  }

  /** Stops every node process: SIGTERM, then SIGKILL for any still running after 10 s. */
  @Override
  public void close() {
    List<Process> all;
    synchronized (processes) {
      all = new ArrayList<>(processes.values());
      processes.clear();
    }
    for (Process p : all) {
      p.destroy();
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    for (Process p : all) {
      try {
        long left = deadline - System.nanoTime();
        if (left <= 0 || !p.waitFor(left, TimeUnit.NANOSECONDS)) {
          p.destroyForcibly();
          p.waitFor(5, TimeUnit.SECONDS);
        }
      } catch (InterruptedException e) {
        p.destroyForcibly();
        Thread.currentThread().interrupt();
      }
    }
  }

  /** @return the work directory */
  Path work() {
    return work;
  }
}
