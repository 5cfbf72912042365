package dev.raftvertx.kv;

import dev.raftvertx.RaftNode;
import dev.raftvertx.RaftOptions;
import dev.raftvertx.TlsOptions;
import dev.raftvertx.webui.AdminAuthHandler;
import dev.raftvertx.webui.NodeControl;
import dev.raftvertx.webui.WebUi;
import dev.raftvertx.webui.WebUiOptions;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.http.HttpServer;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.micrometer.MicrometerMetricsFactory;
import io.vertx.micrometer.MicrometerMetricsOptions;
import io.vertx.micrometer.PrometheusScrapingHandler;
import io.vertx.micrometer.VertxPrometheusOptions;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Starts the replicated key-value store: with no arguments an embedded 3-node cluster in one JVM
 * (nodes n1, n2, n3 on the local event bus, data under ./data, HTTP on 8081-8083) with the web UI
 * on 8080; with {@code --id} one node of a cluster of processes talking over the TCP event-bus
 * bridge. Every HTTP port serves Prometheus metrics at {@code /metrics}.
 */
@Command(name = "sample-app", mixinStandardHelpOptions = true,
    subcommands = {dev.raftvertx.kv.bench.Bench.class, dev.raftvertx.kv.bench.Soak.class},
    description = "A replicated key-value store on raft-vertx.")
public final class KvMain implements Callable<Integer>, NodeControl {

  @Option(names = "--id", description = "this node's id; omit to run the embedded 3-node cluster")
  String id;

  @Option(names = "--peers", split = ",", description = "every node as id=host:port of its TCP"
      + " bridge, this one included, e.g. n1=127.0.0.1:7001,n2=127.0.0.1:7002")
  Map<String, String> peers = new LinkedHashMap<>();

  @Option(names = "--http-port", description = "HTTP port of this node (default 8080); for the"
      + " embedded cluster, the port of n1 (default 8081; n2 and n3 take the next ones)")
  Integer httpPort;

  @Option(names = "--http-host", defaultValue = "127.0.0.1", description = "HTTP bind address")
  String httpHost;

  @Option(names = "--client-port", description = "port of this node's binary client API"
      + " (KvBinaryServer; off unless given; with --id only)")
  Integer clientPort;

  @Option(names = "--ui-port", description = "port of the web UI (default 8080 for the embedded"
      + " cluster; off for a single node unless given)")
  Integer uiPort;

  @Option(names = "--admin-token", description = "bearer token of the admin endpoints (the nodes'"
      + " /cluster/* and the web UI's actions); default: $RAFT_ADMIN_TOKEN, else a random one,"
      + " printed at start-up")
  String adminToken;

  @Option(names = "--kv-token", description = "bearer token the key-value API (/kv, /sessions)"
      + " requires; default: $RAFT_KV_TOKEN, else none: the key-value API is open, as suits a"
      + " trusted loopback setup. /status, /health, /ready and /metrics stay open.")
  String kvToken;

  @Option(names = "--data-dir", description = "data directory (default data/<id>); for the"
      + " embedded cluster, the parent of the nodes' directories (default data)")
  String dataDir;

  @Option(names = "--cluster-id", defaultValue = RaftOptions.DEFAULT_CLUSTER_ID,
      description = "cluster id; nodes of other clusters are refused")
  String clusterId;

  @Option(names = "--election-timeout-ms", defaultValue = "150",
      description = "minimum election timeout (each is drawn from T..2T)")
  long electionTimeoutMillis;

  @Option(names = "--heartbeat-ms", defaultValue = "50", description = "heartbeat interval")
  long heartbeatMillis;

  @Option(names = "--snapshot-entries", description = "entries applied since the latest"
      + " snapshot that make a node take a new one and compact its log (default "
      + RaftOptions.DEFAULT_SNAPSHOT_THRESHOLD_ENTRIES + ")")
  long snapshotEntries = RaftOptions.DEFAULT_SNAPSHOT_THRESHOLD_ENTRIES;

  @Option(names = "--snapshot-trailing", description = "log entries kept below a new snapshot"
      + " for followers that lag a little (default "
      + RaftOptions.DEFAULT_SNAPSHOT_TRAILING_ENTRIES + ")")
  long snapshotTrailing = RaftOptions.DEFAULT_SNAPSHOT_TRAILING_ENTRIES;

  @Option(names = "--segment-bytes", description = "size at which the log rolls to a new"
      + " segment file; segments wholly covered by a snapshot are deleted (default "
      + RaftOptions.DEFAULT_MAX_SEGMENT_BYTES + ")")
  long segmentBytes = RaftOptions.DEFAULT_MAX_SEGMENT_BYTES;

  @Option(names = "--join", description = "start empty as a non-member and wait to be added"
      + " (POST /cluster/members on the leader); ignored once the node has a log")
  boolean join;

  @Option(names = "--tls-cert", description = "PEM certificate of this node, signed by the"
      + " cluster's CA, whose subject CN is the node id: turns on TLS with mutual authentication"
      + " between the nodes (with --tls-key and --tls-ca)")
  String tlsCert;

  @Option(names = "--tls-key", description = "PEM private key of this node (unencrypted)")
  String tlsKey;

  @Option(names = "--tls-ca", description = "PEM certificate of the cluster's CA: the only"
      + " authority whose node certificates are accepted")
  String tlsCa;

  @Option(names = "--bench-agent-port", hidden = true, description = "used by the bench command:"
      + " serve its embedded load generator on this port")
  Integer benchAgentPort;

  private Vertx vertx;
  /** Each Vert.x instance gets its own metrics registry (several may share a JVM in tests). */
  private final String registryName = "raft-sample-" + UUID.randomUUID();
  /** Running nodes by id. */
  private final Map<String, RaftNode> nodes = new ConcurrentHashMap<>();
  private final Map<String, HttpServer> servers = new ConcurrentHashMap<>();
  /** How to start each node again (embedded cluster): its options and HTTP port. */
  private final Map<String, RaftOptions> nodeOptions = new ConcurrentHashMap<>();
  private final Map<String, Integer> nodePorts = new ConcurrentHashMap<>();
  private final Map<String, Boolean> busy = new ConcurrentHashMap<>();
  private WebUi webUi;
  private HttpServer uiServer;
  /** The embedded cluster's data directory (parent of the nodes' directories). */
  private String embeddedDataDir = "data";

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
    Future<?> started = start();
    try {
      started.await(60, TimeUnit.SECONDS);
    } catch (Exception e) {
      System.err.println("failed to start: " + (started.cause() != null ? started.cause() : e));
      if (vertx != null) {
        vertx.close();
      }
      return 1;
    }
    Runtime.getRuntime().addShutdownHook(new Thread(this::shutdown, "raft-shutdown"));
    return 0;
  }

  /**
   * Starts Vert.x (with Prometheus metrics), the node or nodes, their HTTP APIs and the web UI.
   *
   * @return completes once everything listens
   */
  public Future<Void> start() {
    if (adminToken == null || adminToken.isBlank()) {
      String env = System.getenv("RAFT_ADMIN_TOKEN");
      if (env != null && !env.isBlank()) {
        adminToken = env;
      } else {
        adminToken = AdminAuthHandler.generateToken();
        System.out.println("admin token (Authorization: Bearer ...): " + adminToken);
      }
    }
    try {
      kvToken = kvToken(kvToken, System.getenv("RAFT_KV_TOKEN"));
    } catch (IllegalArgumentException e) {
      return Future.failedFuture(e);
    }
    if (kvToken != null) {
      System.out.println("key-value API: requires its token (Authorization: Bearer ...)");
    }
    vertx = Vertx.builder()
        .with(new VertxOptions().setPreferNativeTransport(true)
            .setMetricsOptions(new MicrometerMetricsOptions()
            .setPrometheusOptions(new VertxPrometheusOptions().setEnabled(true))
            .setRegistryName(registryName)
            .setEnabled(true)))
        .withMetrics(new MicrometerMetricsFactory())
        .build();
    if (!vertx.isNativeTransportEnabled()) {
      System.out.println("network: Java NIO (the native epoll transport is not available: "
          + vertx.unavailableNativeTransportCause() + ")");
    }
    Future<?> started = id == null ? startEmbedded() : startOne();
    return started.mapEmpty();
  }

  /**
   * @param option the {@code --kv-token} value, or null
   * @param env the value of {@code RAFT_KV_TOKEN}, or null
   * @return the key-value token: the option, else the environment variable if not blank, else
   *     null (no token)
   * @throws IllegalArgumentException if the option was given blank
   */
  static String kvToken(String option, String env) {
    if (option != null) {
      if (option.isBlank()) {
        throw new IllegalArgumentException("--kv-token must not be blank; omit it to leave the"
            + " key-value API open");
      }
      return option;
    }
    return env != null && !env.isBlank() ? env : null;
  }

  /** @return the key-value token in use (after {@link #start()}), or null if the API is open */
  public String kvToken() {
    return kvToken;
  }

  /** @return the admin token in use (after {@link #start()}) */
  public String adminToken() {
    return adminToken;
  }

  /** @return the Vert.x instance (after {@link #start()}) */
  public Vertx vertx() {
    return vertx;
  }

  /** @return the port the web UI listens on, or -1 if it does not run */
  public int uiPort() {
    return uiServer == null ? -1 : uiServer.actualPort();
  }

  /**
   * @param nodeId a node id
   * @return the port of that node's HTTP API
   */
  public int httpPort(String nodeId) {
    return nodePorts.getOrDefault(nodeId, -1);
  }

  /** @return TLS settings from the --tls-* flags, or null if none was given */
  TlsOptions tlsOptions() {
    if (tlsCert == null && tlsKey == null && tlsCa == null) {
      return null;
    }
    return new TlsOptions().setCertPath(tlsCert).setKeyPath(tlsKey).setCaPath(tlsCa);
  }

  private Future<?> startEmbedded() {
    if (tlsOptions() != null) {
      return Future.failedFuture("--tls-cert, --tls-key and --tls-ca secure a cluster of"
          + " processes: give them with --id and --peers");
    }
    Map<String, String> members = new LinkedHashMap<>();
    for (int i = 1; i <= 3; i++) {
      members.put("n" + i, "local");
    }
    int firstPort = httpPort != null ? httpPort : 8081;
    String parent = dataDir != null ? dataDir : "data";
    embeddedDataDir = parent;
    Future<?> all = Future.succeededFuture();
    for (int i = 1; i <= 3; i++) {
      String nodeId = "n" + i;
      RaftOptions o = options(nodeId, members, parent + "/" + nodeId)
          .setTransport(RaftOptions.TransportKind.EVENT_BUS);
      int port = firstPort == 0 ? 0 : firstPort + i - 1;
      nodeOptions.put(nodeId, o);
      all = all.compose(v -> startNode(o, port));
    }
    int ui = uiPort != null ? uiPort : 8080;
    return all.compose(v -> startUi(ui)).onSuccess(v -> {
      System.out.println("embedded 3-node cluster running (data under " + parent + ")");
      for (int i = 1; i <= 3; i++) {
        System.out.println("  node n" + i + ": http://localhost:" + httpPort("n" + i)
            + "/status");
      }
      printUi();
      System.out.println("try: curl -X PUT -d world http://localhost:" + httpPort("n1")
          + "/kv/hello; curl http://localhost:" + httpPort("n2") + "/kv/hello");
    });
  }

  private Future<?> startOne() {
    if (peers.isEmpty()) {
      return Future.failedFuture("--peers is required with --id");
    }
    int port = httpPort != null ? httpPort : 8080;
    RaftOptions o = options(id, peers, dataDir != null ? dataDir : "data/" + id)
        .setTransport(RaftOptions.TransportKind.TCP).setJoin(join).setTls(tlsOptions());
    nodeOptions.put(id, o);
    Future<?> f = startNode(o, port)
        .compose(node -> clientPort == null ? Future.succeededFuture(node)
            : new KvBinaryServer(vertx, node, o.getMaxEntryBytes() + 1024).kvToken(kvToken)
                .listen(httpHost, clientPort).map(s -> {
                  System.out.println("binary client API on " + httpHost + ":" + s.actualPort());
                  return node;
                }))
        .compose(node -> benchAgentPort == null ? Future.succeededFuture()
            : dev.raftvertx.kv.bench.BenchAgent.start(vertx, node, httpHost, benchAgentPort))
        .onSuccess(v -> System.out.println("node " + id + " running: http://" + httpHost + ":"
            + httpPort(id) + "/status, Raft bridge on " + peers.get(id)));
    if (uiPort != null) {
      f = f.compose(v -> startUi(uiPort)).onSuccess(v -> printUi());
    }
    return f;
  }

  private RaftOptions options(String nodeId, Map<String, String> members, String dir) {
    return new RaftOptions().setNodeId(nodeId).setClusterId(clusterId).setPeers(members)
        .setDataDir(dir).setElectionTimeoutMillis(electionTimeoutMillis)
        .setHeartbeatIntervalMillis(heartbeatMillis).setMetricsEnabled(true)
        .setSnapshotThresholdEntries(snapshotEntries).setSnapshotTrailingEntries(snapshotTrailing)
        .setMaxSegmentBytes(segmentBytes)
        .setMetricsRegistryName(registryName);
  }

  private Handler<RoutingContext> metrics() {
    return PrometheusScrapingHandler.create(registryName);
  }

  private Future<RaftNode> startNode(RaftOptions o, int port) {
    return RaftNode.deploy(vertx, o, new KvStateMachine()).compose(node -> {
      nodes.put(node.id(), node);
      return new KvHttpServer(vertx, node, o.getMaxEntryBytes() + 1024, adminToken)
          .kvToken(kvToken)
          .metricsHandler(metrics())
          .listen(httpHost, port)
          .onSuccess(server -> {
            servers.put(node.id(), server);
            nodePorts.put(node.id(), server.actualPort());
          })
          .map(server -> node);
    });
  }

  private Future<HttpServer> startUi(int port) {
    webUi = WebUi.create(vertx, new ArrayList<>(nodes.values()), new WebUiOptions()
            .setAdminToken(adminToken).setProposeHint("key=value"))
        .commandEncoder(KvMain::encodeProposal)
        .commandFormatter(KvStateMachine::label);
    if (id == null) {
      webUi.nodeControl(this);
    }
    Router router = Router.router(vertx);
    router.route("/*").subRouter(webUi.router());
    router.get("/metrics").handler(metrics());
    return vertx.createHttpServer().requestHandler(router).listen(port, httpHost)
        .onSuccess(s -> uiServer = s);
  }

  private void printUi() {
    String url = "http://localhost:" + uiPort() + "/";
    System.out.println("web UI: " + url + "#token=" + adminToken);
    System.out.println("  admin token: " + adminToken + " (send it as 'Authorization: Bearer"
        + " <token>'; set it with --admin-token or RAFT_ADMIN_TOKEN)");
    System.out.println("  Prometheus metrics: " + url + "metrics");
  }

  /**
   * The web UI's propose box: {@code key=value} puts a value.
   *
   * @param text what was typed
   * @return the command
   */
  static io.vertx.core.buffer.Buffer encodeProposal(String text) {
    int eq = text.indexOf('=');
    if (eq <= 0) {
      throw new IllegalArgumentException("type key=value to put a value");
    }
    return new KvCommand.Put(text.substring(0, eq), text.substring(eq + 1)).encode();
  }

  // ---- NodeControl: the web UI's stop and restart buttons (embedded cluster) ----

  @Override
  public Future<Void> stop(String nodeId) {
    RaftNode node = nodes.get(nodeId);
    if (node == null || busy.putIfAbsent(nodeId, Boolean.TRUE) != null) {
      return Future.failedFuture(new IllegalArgumentException("node " + nodeId
          + " is not running"));
    }
    HttpServer server = servers.remove(nodeId);
    Future<Void> closed = server == null ? Future.succeededFuture() : server.close();
    return closed.eventually(node::close)
        .onComplete(ar -> {
          nodes.remove(nodeId);
          busy.remove(nodeId);
          System.out.println("node " + nodeId + (ar.succeeded() ? " stopped" : " failed to stop: "
              + ar.cause()) + " (web UI)");
        });
  }

  @Override
  public Future<RaftNode> start(String nodeId) {
    if (id == null && !nodeOptions.containsKey(nodeId) && nodeId.matches("[A-Za-z0-9_-]{1,32}")) {
      // The web UI's "add node": a new member of the embedded cluster starts empty and waits to
      // be added (RaftOptions.setJoin); the leader then adds it.
      Map<String, String> members = new LinkedHashMap<>();
      for (String known : nodeOptions.keySet()) {
        members.put(known, "local");
      }
      members.put(nodeId, "local");
      nodeOptions.putIfAbsent(nodeId, options(nodeId, members, embeddedDataDir + "/" + nodeId)
          .setTransport(RaftOptions.TransportKind.EVENT_BUS).setJoin(true));
    }
    RaftOptions o = nodeOptions.get(nodeId);
    if (o == null || nodes.containsKey(nodeId) || busy.putIfAbsent(nodeId, Boolean.TRUE) != null) {
      return Future.failedFuture(new IllegalArgumentException("node " + nodeId
          + " is unknown or already running"));
    }
    return startNode(o, nodePorts.getOrDefault(nodeId, 0))
        .onComplete(ar -> {
          busy.remove(nodeId);
          System.out.println("node " + nodeId + (ar.succeeded() ? " restarted" : " failed to"
              + " restart: " + ar.cause()) + " (web UI)");
        });
  }

  /**
   * Stops the UI, the nodes (pending requests fail clearly, logs close), then Vert.x.
   *
   * @return completes once everything is closed
   */
  public Future<Void> stopAll() {
    Future<?> all = webUi == null ? Future.succeededFuture() : webUi.close();
    for (RaftNode n : List.copyOf(nodes.values())) {
      all = all.eventually(() -> n.close().onComplete(ar -> System.out.println("node " + n.id()
          + (ar.succeeded() ? " stopped" : " failed to stop: " + ar.cause()))));
    }
    return all.eventually(() -> vertx.close()).mapEmpty();
  }

  /**
   * SIGTERM: stop everything. Reports on stdout: java.util.logging is already shut down while
   * shutdown hooks run.
   */
  private void shutdown() {
    try {
      stopAll().await(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      System.err.println("shutdown did not finish cleanly: " + e);
    }
  }
}
