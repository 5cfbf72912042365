package dev.raftvertx.jepsen;

import dev.raftvertx.kv.KvMain;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.StringJoiner;
import java.util.concurrent.TimeUnit;

/**
 * A cluster of sample-app processes (one JVM per node, started from the test classpath) talking
 * over the TCP bridge on 127.0.0.1 through a {@link FaultProxy}: each node's {@code --peers}
 * names its own real bridge port for itself and, for every other node, the proxy port of the
 * directed link from it to that node. Every node is started with the same admin token, with
 * which {@link #setMessageFaults} reaches each node's transport fault hook through
 * {@code POST /admin/faults}: message loss, duplication and reordering, which a proxy cannot
 * inject into the (possibly TLS) byte stream.
 */
public final class NodeProcesses implements AutoCloseable {

  private final List<String> ids = new ArrayList<>();
  private final Map<String, Integer> httpPorts = new LinkedHashMap<>();
  private final Map<String, Integer> bridgePorts = new LinkedHashMap<>();
  private final Map<String, String> peersArgs = new LinkedHashMap<>();
  private final Map<String, Process> processes = new LinkedHashMap<>();
  private final Set<String> paused = new HashSet<>();
  /** Nodes whose running process has message faults set. */
  private final Set<String> messageFaulted = new HashSet<>();
  private final String adminToken = "jepsen-" + java.util.UUID.randomUUID();
  private final Path dir;
  private final String clusterId;
  private final List<String> extraArgs;
  private final FaultProxy proxy = new FaultProxy();
  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(1)).build();

  /**
   * Allocates ports and starts the proxy; no node is started yet.
   *
   * @param size number of nodes (n1..nN)
   * @param dir where data directories and logs go
   * @param clusterId the cluster id
   * @param extraArgs more sample-app flags for every node
   */
  public NodeProcesses(int size, Path dir, String clusterId, List<String> extraArgs)
      throws IOException {
    this.dir = dir;
    this.clusterId = clusterId;
    this.extraArgs = List.copyOf(extraArgs);
    Files.createDirectories(dir);
    for (int i = 1; i <= size; i++) {
      String id = "n" + i;
      ids.add(id);
      httpPorts.put(id, freePort());
      bridgePorts.put(id, freePort());
    }
    for (String from : ids) {
      StringJoiner peers = new StringJoiner(",");
      for (String to : ids) {
        int port = bridgePorts.get(to);
        if (!to.equals(from)) {
          port = freePort();
          proxy.addLink(from, to, port, bridgePorts.get(to));
        }
        peers.add(to + "=127.0.0.1:" + port);
      }
      peersArgs.put(from, peers.toString());
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  /** @return the node ids */
  public List<String> ids() {
    return ids;
  }

  /** @return the proxy between the nodes */
  public FaultProxy proxy() {
    return proxy;
  }

  /**
   * @param id a node
   * @return its HTTP port
   */
  public int httpPort(String id) {
    return httpPorts.get(id);
  }

  /**
   * @param id a node
   * @return its --peers argument
   */
  public String peersArg(String id) {
    return peersArgs.get(id);
  }

  /**
   * @param id a node
   * @return its log file
   */
  public Path log(String id) {
    return dir.resolve(id + ".log");
  }

  /** Starts (or restarts, on the same data directory) one node. */
  public synchronized void start(String id) throws IOException {
    Process old = processes.get(id);
    if (old != null && old.isAlive()) {
      throw new IllegalStateException(id + " is running");
    }
    String javaBin = ProcessHandle.current().info().command().orElse("java");
    List<String> cmd = new ArrayList<>(List.of(javaBin, "-Xmx192m", "-XX:+UseSerialGC",
        "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"),
        KvMain.class.getName(), "--id", id, "--peers", peersArgs.get(id),
        "--http-port", String.valueOf(httpPorts.get(id)),
        "--data-dir", dir.resolve("data").resolve(id).toString(), "--cluster-id", clusterId,
        "--admin-token", adminToken));
    cmd.addAll(extraArgs);
    Files.writeString(log(id), "=== start " + Instant.now() + "\n", StandardOpenOption.CREATE,
        StandardOpenOption.APPEND);
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(log(id).toFile())).start();
    processes.put(id, p);
    paused.remove(id);
    messageFaulted.remove(id); // a new process starts without faults
  }

  /** @return true if the node's running process has message faults set */
  public synchronized boolean hasMessageFaults(String id) {
    return messageFaulted.contains(id);
  }

  /** @return the admin token every node is started with */
  public String adminToken() {
    return adminToken;
  }

  /**
   * Sets message-level faults on a node's outbound Raft traffic ({@code POST /admin/faults}).
   *
   * @param id a running node
   * @param faults {@code {"drop", "duplicate", "delayMs", "delayMaxMs"}}
   * @return null if set, else why not
   */
  public String setMessageFaults(String id, JsonObject faults) {
    String error = admin(id, "POST", faults.encode());
    if (error == null) {
      synchronized (this) {
        messageFaulted.add(id);
      }
    }
    return error;
  }

  /**
   * Clears every transport fault of a node ({@code DELETE /admin/faults}).
   *
   * @param id a running node
   * @return null if cleared, else why not
   */
  public String clearMessageFaults(String id) {
    String error = admin(id, "DELETE", null);
    if (error == null) {
      synchronized (this) {
        messageFaulted.remove(id);
      }
    }
    return error;
  }

  private String admin(String id, String method, String body) {
    try {
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
          + httpPorts.get(id) + "/admin/faults")).timeout(Duration.ofSeconds(2))
          .header("Authorization", "Bearer " + adminToken)
          .header("Content-Type", "application/json")
          .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
              : HttpRequest.BodyPublishers.ofString(body)).build(),
          HttpResponse.BodyHandlers.ofString());
      return r.statusCode() == 200 ? null : r.statusCode() + " " + r.body();
    } catch (IOException | RuntimeException e) {
      return String.valueOf(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return String.valueOf(e);
    }
  }

  /** @return true if the node's process is alive (running or paused) */
  public synchronized boolean isAlive(String id) {
    Process p = processes.get(id);
    return p != null && p.isAlive();
  }

  /** @return true if the node is paused with SIGSTOP */
  public synchronized boolean isPaused(String id) {
    return paused.contains(id);
  }

  /** SIGKILL, and waits until the process is gone. */
  public synchronized void kill(String id) throws InterruptedException {
    Process p = processes.get(id);
    if (p == null) {
      return;
    }
    if (paused.remove(id)) {
      signal(p, "CONT");
    }
    p.destroyForcibly();
    if (!p.waitFor(30, TimeUnit.SECONDS)) {
      throw new IllegalStateException(id + " survived SIGKILL");
    }
  }

  /** SIGSTOP. */
  public synchronized void pause(String id) throws InterruptedException {
    Process p = processes.get(id);
    if (p != null && p.isAlive() && paused.add(id)) {
      signal(p, "STOP");
    }
  }

  /** SIGCONT. */
  public synchronized void resume(String id) throws InterruptedException {
    Process p = processes.get(id);
    if (p != null && paused.remove(id)) {
      signal(p, "CONT");
    }
  }

  private static void signal(Process p, String signal) throws InterruptedException {
    try {
      Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(p.pid()))
          .redirectErrorStream(true).start();
      if (!kill.waitFor(10, TimeUnit.SECONDS) || kill.exitValue() != 0) {
        throw new IllegalStateException("kill -" + signal + " " + p.pid() + " failed: "
            + new String(kill.getInputStream().readAllBytes()));
      }
    } catch (IOException e) {
      throw new IllegalStateException("cannot run kill -" + signal, e);
    }
  }

  /**
   * @param id a node
   * @return its GET /status, or null if it does not answer within a second
   */
  public JsonObject status(String id) {
    try {
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
          + httpPorts.get(id) + "/status")).timeout(Duration.ofSeconds(1)).GET().build(),
          HttpResponse.BodyHandlers.ofString());
      return r.statusCode() == 200 ? new JsonObject(r.body()) : null;
    } catch (IOException | RuntimeException e) {
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    }
  }

  /**
   * @return the node that says it is leader with the highest term, among the running (not
   *     paused, not halted) ones, or null
   */
  public String leader() {
    String best = null;
    long bestTerm = -1;
    for (String id : ids) {
      if (!isAlive(id) || isPaused(id)) {
        continue;
      }
      JsonObject s = status(id);
      if (s != null && s.getValue("error") == null && "leader".equals(s.getString("role"))
          && s.getLong("term") > bestTerm) {
        best = id;
        bestTerm = s.getLong("term");
      }
    }
    return best;
  }

  /**
   * @return "id: error" for every node whose /status reports that it halted
   */
  public List<String> halted() {
    List<String> out = new ArrayList<>();
    for (String id : ids) {
      JsonObject s = isAlive(id) && !isPaused(id) ? status(id) : null;
      if (s != null && s.getValue("error") != null) {
        out.add(id + ": " + s.getValue("error"));
      }
    }
    return out;
  }

  /**
   * Waits until every node answers /status and one is leader.
   *
   * @param timeoutMillis how long to wait
   * @return the leader
   * @throws IllegalStateException if that does not happen in time, or a node halted
   */
  public String awaitHealthy(long timeoutMillis) throws InterruptedException {
    long deadline = System.currentTimeMillis() + timeoutMillis;
    while (System.currentTimeMillis() < deadline) {
      boolean all = ids.stream().allMatch(id -> status(id) != null);
      List<String> halted = halted();
      if (!halted.isEmpty()) {
        throw new IllegalStateException("halted: " + halted + "; logs in " + dir);
      }
      String leader = all ? leader() : null;
      if (leader != null) {
        return leader;
      }
      Thread.sleep(200);
    }
    throw new IllegalStateException("no healthy cluster within " + timeoutMillis + " ms; logs in "
        + dir);
  }

  /**
   * Resumes paused nodes, restarts dead ones, heals every link and clears the message faults
   * still set on a node.
   *
   * @throws IllegalStateException if a node's message faults could not be cleared in 10 s
   */
  public void healAll() throws IOException, InterruptedException {
    proxy.healAll();
    for (String id : ids) {
      if (isPaused(id)) {
        resume(id);
      }
      if (!isAlive(id)) {
        start(id);
      }
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    for (String id : ids) {
      String error;
      while (true) {
        synchronized (this) {
          if (!messageFaulted.contains(id)) {
            break;
          }
        }
        error = clearMessageFaults(id);
        if (error == null) {
          break;
        }
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException("cannot clear the message faults of " + id + ": "
              + error);
        }
        Thread.sleep(200);
      }
    }
  }

  /** Stops every node (SIGCONT first if paused, then SIGKILL) and the proxy. */
  @Override
  public void close() {
    for (String id : ids) {
      try {
        kill(id);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } catch (RuntimeException e) {
        Process p = processes.get(id);
        if (p != null) {
          p.destroyForcibly();
        }
      }
    }
    proxy.close();
  }
}
