package dev.raftvertx.kv;

import dev.raftvertx.RaftNode;
import dev.raftvertx.RaftOptions;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Starts the replicated key-value store: with no arguments an embedded 3-node cluster in one JVM
 * (nodes n1, n2, n3 on the local event bus, data under ./data, HTTP on 8081-8083); with
 * {@code --id} one node of a cluster of processes talking over the TCP event-bus bridge.
 */
@Command(name = "sample-app", mixinStandardHelpOptions = true,
    subcommands = dev.raftvertx.kv.bench.Bench.class,
    description = "A replicated key-value store on raft-vertx.")
public final class KvMain implements Callable<Integer> {

  @Option(names = "--id", description = "this node's id; omit to run the embedded 3-node cluster")
  String id;

  @Option(names = "--peers", split = ",", description = "every node as id=host:port of its TCP"
      + " bridge, this one included, e.g. n1=127.0.0.1:7001,n2=127.0.0.1:7002")
  Map<String, String> peers = new LinkedHashMap<>();

  @Option(names = "--http-port", description = "HTTP port of this node (default 8080 + n)")
  Integer httpPort;

  @Option(names = "--http-host", defaultValue = "127.0.0.1", description = "HTTP bind address")
  String httpHost;

  @Option(names = "--data-dir", description = "data directory (default data/<id>)")
  String dataDir;

  @Option(names = "--cluster-id", defaultValue = RaftOptions.DEFAULT_CLUSTER_ID,
      description = "cluster id; nodes of other clusters are refused")
  String clusterId;

  @Option(names = "--election-timeout-ms", defaultValue = "150",
      description = "minimum election timeout (each is drawn from T..2T)")
  long electionTimeoutMillis;

  @Option(names = "--heartbeat-ms", defaultValue = "50", description = "heartbeat interval")
  long heartbeatMillis;

  @Option(names = "--admin-token", description = "token the admin endpoints require (default:"
      + " $RAFT_ADMIN_TOKEN, else a generated one, printed at start-up)")
  String adminToken;

  @Option(names = "--join", description = "start empty as a non-member and wait to be added"
      + " (POST /cluster/members on the leader); ignored once the node has a log")
  boolean join;

  @Option(names = "--bench-agent-port", hidden = true, description = "used by the bench command:"
      + " serve its embedded load generator on this port")
  Integer benchAgentPort;

  private Vertx vertx;
  private final List<RaftNode> nodes = new ArrayList<>();

  /**
   * @param args the command line
   */
  public static void main(String[] args) {
    int code = new CommandLine(new KvMain()).execute(args);
    if (code != 0) {
      System.exit(code);
    }
  }

  @Override
  public Integer call() {
    if (adminToken == null) {
      adminToken = System.getenv("RAFT_ADMIN_TOKEN");
    }
    if (adminToken == null || adminToken.isBlank()) {
      byte[] random = new byte[16];
      new java.security.SecureRandom().nextBytes(random);
      adminToken = java.util.HexFormat.of().formatHex(random);
      System.out.println("admin token (Authorization: Bearer ...): " + adminToken);
    }
    vertx = Vertx.vertx();
    Future<?> started = id == null ? startEmbedded() : startOne();
    try {
      started.await(60, TimeUnit.SECONDS);
    } catch (Exception e) {
      System.err.println("failed to start: " + (started.cause() != null ? started.cause() : e));
      vertx.close();
      return 1;
    }
    Runtime.getRuntime().addShutdownHook(new Thread(this::shutdown, "raft-shutdown"));
    return 0;
  }

  private Future<?> startEmbedded() {
    Map<String, String> members = new LinkedHashMap<>();
    for (int i = 1; i <= 3; i++) {
      members.put("n" + i, "local");
    }
    Future<?> all = Future.succeededFuture();
    for (int i = 1; i <= 3; i++) {
      String nodeId = "n" + i;
      RaftOptions o = options(nodeId, members, "data/" + nodeId)
          .setTransport(RaftOptions.TransportKind.EVENT_BUS);
      int port = 8080 + i;
      all = all.compose(v -> startNode(o, port));
    }
    return all.onSuccess(v -> {
      System.out.println("embedded 3-node cluster running (data under ./data)");
      for (int i = 1; i <= 3; i++) {
        System.out.println("  node n" + i + ": http://localhost:" + (8080 + i) + "/status");
      }
      System.out.println("try: curl -X PUT -d world http://localhost:8081/kv/hello;"
          + " curl http://localhost:8082/kv/hello");
    });
  }

  private Future<?> startOne() {
    if (peers.isEmpty()) {
      return Future.failedFuture("--peers is required with --id");
    }
    int port = httpPort != null ? httpPort : 8080;
    RaftOptions o = options(id, peers, dataDir != null ? dataDir : "data/" + id)
        .setTransport(RaftOptions.TransportKind.TCP).setJoin(join);
    return startNode(o, port).compose(v -> benchAgentPort == null ? Future.succeededFuture()
        : dev.raftvertx.kv.bench.BenchAgent.start(vertx, nodes.get(0), httpHost, benchAgentPort))
        .onSuccess(v -> System.out.println("node " + id + " running: http://"
        + httpHost + ":" + port + "/status, Raft bridge on " + peers.get(id)));
  }

  private RaftOptions options(String nodeId, Map<String, String> members, String dir) {
    return new RaftOptions().setNodeId(nodeId).setClusterId(clusterId).setPeers(members)
        .setDataDir(dir).setElectionTimeoutMillis(electionTimeoutMillis)
        .setHeartbeatIntervalMillis(heartbeatMillis);
  }

  private Future<?> startNode(RaftOptions o, int port) {
    return RaftNode.deploy(vertx, o, new KvStateMachine()).compose(node -> {
      nodes.add(node);
      return new KvHttpServer(vertx, node, o.getMaxEntryBytes() + 1024, adminToken)
          .listen(httpHost, port);
    });
  }

  /**
   * SIGTERM: stop the nodes (pending requests fail clearly, logs close), then Vert.x. Reports on
   * stdout: java.util.logging is already shut down while shutdown hooks run.
   */
  private void shutdown() {
    Future<?> all = Future.succeededFuture();
    for (RaftNode n : nodes) {
      all = all.eventually(() -> n.close().onComplete(ar -> System.out.println("node " + n.id()
          + (ar.succeeded() ? " stopped" : " failed to stop: " + ar.cause()))));
    }
    try {
      all.eventually(() -> vertx.close()).await(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      System.err.println("shutdown did not finish cleanly: " + e);
    }
  }
}
