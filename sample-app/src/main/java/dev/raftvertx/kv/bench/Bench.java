package dev.raftvertx.kv.bench;

import dev.raftvertx.client.KvClient;
import dev.raftvertx.client.KvClientOptions;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code sample-app bench}: starts a fresh 3-node cluster of processes on 127.0.0.1 (TCP bridge,
 * fsync on: the product's defaults), runs a closed-loop workload of writes and reads at several
 * concurrencies, from a remote client process (this one, through {@link KvClient}) and embedded
 * in the leader's process (through the {@code RaftNode} Future API), prints one {@code RESULT}
 * line per configuration and a table, and stops everything it started.
 */
@Command(name = "bench", mixinStandardHelpOptions = true, subcommands = BenchFailover.class,
    sortOptions = false,
    description = {"Benchmarks a fresh 3-node cluster of processes (TCP bridge on 127.0.0.1,"
        + " fsync on): closed-loop writes and reads, C in flight, latency in an HdrHistogram.",
        "Prints one RESULT line per configuration, then a table."})
public final class Bench extends BenchBase implements Callable<Integer> {

  static final int NODES = 3;

  @Option(names = "--mode", defaultValue = "both", description = "remote (a client process over"
      + " HTTP), embedded (the Future API in the leader's process) or both; default ${DEFAULT-VALUE}")
  String mode;

  @Option(names = "--op", defaultValue = "both", description = "write, read or both;"
      + " default ${DEFAULT-VALUE}")
  String op;

  @Option(names = "--consistency", defaultValue = "both", description = "of reads: linearizable"
      + " (ReadIndex), stale (local) or both; default ${DEFAULT-VALUE}")
  String consistency;

  @Option(names = "--clients", split = ",", defaultValue = "1,16,256",
      description = "operations in flight, a list; default ${DEFAULT-VALUE}")
  List<Integer> clients;

  @Option(names = "--duration", defaultValue = "10",
      description = "measuring seconds per configuration; default ${DEFAULT-VALUE}")
  double duration;

  @Option(names = "--warmup", defaultValue = "2",
      description = "warm-up seconds before each configuration; default ${DEFAULT-VALUE}")
  double warmup;

  @Option(names = "--initial-warmup", defaultValue = "15", description = "seconds of writes at"
      + " C=16 (then half as long of reads) before the first configuration, unreported, for the"
      + " JIT; a third of it before the second mode; default ${DEFAULT-VALUE}")
  double initialWarmup;

  @Option(names = "--payload", defaultValue = "100",
      description = "bytes of each written value; default ${DEFAULT-VALUE}")
  int payload;

  @Option(names = "--client-protocol", defaultValue = "BINARY", description = "remote client:"
      + " HTTP_1_1 (keep-alive), HTTP_2 (cleartext, prior knowledge) or BINARY (the nodes'"
      + " --client-port: one multiplexed connection); default ${DEFAULT-VALUE}")
  RemoteClient.Protocol protocol;

  @Option(names = "--client-connections", defaultValue = "0", description = "remote client:"
      + " connections to the leader; default 0: HTTP/1.1 as many as operations in flight (a Vert.x"
      + " HTTP/1.1 server answers a connection's pipelined requests one after another), HTTP/2"
      + " one per 100, BINARY one")
  int connections;

  private KvClient client;
  private long clockTicks;

  @Override
  public Integer call() throws Exception {
    List<String> modes = choose(mode, "mode", "remote", "embedded");
    List<String> ops = choose(op, "op", "write", "read");
    List<String> consistencies = choose(consistency, "consistency", "linearizable", "stale");
    List<LoadSpec> specs = new ArrayList<>();
    for (String o : ops) {
      for (String c : o.equals("write") ? List.of("-") : consistencies) {
        for (int n : clients) {
          specs.add(new LoadSpec(o, c, n, payload, warmup, duration));
        }
      }
    }
    clockTicks = CpuProbe.clockTicksPerSecond();
    prepare("raft-vertx-bench-");
    List<BenchResult> results = new ArrayList<>();
    try {
      cluster = new LocalCluster(work, NODES, jvmOptions(), nodeArgs).kvToken(kvToken());
      cluster.startAll();
      System.out.println("INFO nodes " + cluster.ids() + " pids " + cluster.pids()
          + " http " + cluster.httpEndpoints() + " jvm " + nodeJvmOptions);
      System.out.println("INFO remote client protocol " + protocol);
      vertx = Vertx.vertx(new VertxOptions().setPreferNativeTransport(true));
      client = KvClient.create(vertx, new KvClientOptions().setEndpoints(cluster.httpEndpoints())
          .setToken(kvToken()).setConnections(4).setPipeliningLimit(1)
          .setRequestTimeoutMillis(5000));
      awaitReady();
      for (String m : modes) {
        double w = m.equals(modes.get(0)) ? initialWarmup : initialWarmup / 3;
        if (w > 0) {
          System.out.println("INFO " + m + ": initial warm-up " + w + " s");
          measure(m, new LoadSpec("write", "-", 16, payload, 0, w));
          measure(m, new LoadSpec("read", "linearizable", 16, payload, 0, w / 2));
        }
        for (LoadSpec s : specs) {
          long term0 = maxTerm();
          ClosedLoop.Measurement meas = measure(m, s);
          BenchResult r = new BenchResult(m, s, NODES, meas, Math.max(0, maxTerm() - term0));
          results.add(r);
          System.out.println(r.resultLine());
        }
      }
      System.out.println();
      System.out.println(BenchResult.tableHeader());
      results.forEach(r -> System.out.println(r.tableRow()));
      System.out.println("INFO done; loadavg=" + CpuProbe.loadAverages());
      return 0;
    } catch (Exception e) {
      System.err.println("bench failed: " + e);
      printNodeLogs();
      return 1;
    } finally {
      cleanUp();
    }
  }

  private static List<String> choose(String value, String name, String a, String b) {
    if (value.equals("both")) {
      return List.of(a, b);
    }
    if (value.equals(a) || value.equals(b)) {
      return List.of(value);
    }
    throw new picocli.CommandLine.ParameterException(
        new picocli.CommandLine(new Bench()), "--" + name + " must be " + a + ", " + b
        + " or both: " + value);
  }

  /** Waits until a leader acknowledges a write (the key every read reads). */
  private void awaitReady() throws Exception {
    long deadline = System.currentTimeMillis() + 60_000;
    Buffer value = Buffer.buffer(LoadSpec.value(payload));
    Throwable last = null;
    while (System.currentTimeMillis() < deadline) {
      for (String id : cluster.ids()) {
        if (cluster.process(id) == null) {
          throw new IllegalStateException("node " + id + " exited at start-up");
        }
      }
      try {
        client.put(LoadSpec.READ_KEY, value).await(15, TimeUnit.SECONDS);
        String leader = client.leader().await(5, TimeUnit.SECONDS);
        System.out.println("INFO cluster ready, leader " + cluster.idOf(leader));
        return;
      } catch (Exception e) {
        last = e;
        Thread.sleep(200);
      }
    }
    throw new IllegalStateException("the cluster did not become ready in 60 s: " + last);
  }

  /** @return the highest term any node reports (-1 if none answers) */
  private long maxTerm() {
    long max = -1;
    for (String e : cluster.httpEndpoints()) {
      try {
        max = Math.max(max, client.status(e).await(2, TimeUnit.SECONDS).getLong("term", -1L));
      } catch (Exception ignored) {
        // a node that does not answer does not count
      }
    }
    return max;
  }

  private CpuProbe cpuProbe() {
    List<Long> pids = new ArrayList<>(cluster.pids());
    pids.add(ProcessHandle.current().pid());
    return new CpuProbe(pids, clockTicks);
  }

  private ClosedLoop.Measurement measure(String m, LoadSpec s) throws Exception {
    return m.equals("remote") ? remote(s) : embedded(s);
  }

  private ClosedLoop.Measurement remote(LoadSpec s) throws Exception {
    RemoteClient load = RemoteClient.create(vertx, protocol, cluster, s.clients(), connections,
        kvToken());
    try {
      Buffer value = Buffer.buffer(LoadSpec.value(s.payload()));
      ClosedLoop.Operation operation = s.write()
          ? slot -> load.put(LoadSpec.key(slot), value)
          : slot -> load.get(LoadSpec.READ_KEY, s.stale());
      ClosedLoop loop = new ClosedLoop(vertx, operation, s.clients());
      ClosedLoop.Measurement m = loop.run(s.warmupSeconds(), s.seconds(), cpuProbe());
      if (m.errors() > 0) {
        System.out.println("INFO " + m.errors() + " errors, the last: " + loop.lastError());
      }
      return m;
    } finally {
      load.close().await(10, TimeUnit.SECONDS);
    }
  }

  /** Asks the load generator inside the leader's process to run the configuration. */
  private ClosedLoop.Measurement embedded(LoadSpec s) throws Exception {
    String leader;
    try {
      leader = client.leader().await(20, TimeUnit.SECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      throw new IllegalStateException("no leader found in 20 s", e);
    }
    LocalCluster.Node node = cluster.node(cluster.idOf(leader));
    JsonObject cmd = new JsonObject().put("spec", s.toJson())
        .put("pids", new JsonArray(new ArrayList<Object>(cpuProbe().pids())))
        .put("clockTicks", clockTicks);
    HttpClient http = vertx.createHttpClient();
    try {
      Future<JsonObject> answer = http.request(HttpMethod.POST, node.agentPort(), "127.0.0.1",
          "/run").compose(req -> req.send(cmd.toBuffer())).compose(resp -> resp.body().map(b -> {
            if (resp.statusCode() != 200) {
              throw new IllegalStateException("embedded load generator on " + node.id()
                  + " answered " + resp.statusCode() + ": " + b);
            }
            return b.toJsonObject();
          }));
      long limit = (long) (s.warmupSeconds() + s.seconds()) + 60;
      JsonObject json;
      try {
        json = answer.await(limit, TimeUnit.SECONDS);
      } catch (java.util.concurrent.TimeoutException e) {
        throw new IllegalStateException("the embedded load generator on " + node.id()
            + " did not answer in " + limit + " s", e);
      }
      if (json.getLong("errors", 0L) > 0) {
        System.out.println("INFO " + json.getLong("errors") + " errors on " + node.id()
            + ", the last: " + json.getString("lastError"));
      }
      return BenchAgent.fromJson(json);
    } finally {
      http.close();
    }
  }
}
