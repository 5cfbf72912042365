package dev.raftvertx.kv.bench;

import dev.raftvertx.client.KvClient;
import dev.raftvertx.client.KvClientOptions;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.ToLongFunction;
import java.util.logging.Level;
import java.util.logging.Logger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code sample-app soak}: sustained writes against a fresh 3-node cluster of processes for a
 * fixed time, with the leader killed (SIGKILL) and restarted periodically and snapshots taken
 * often, while every node's heap, file descriptors, threads and disk are sampled. At the end it
 * checks that no acknowledged write was lost (on every node), that the figures stayed bounded
 * and that the cluster kept making progress, prints the figures, and exits non-zero if a check
 * fails. It stops everything it started, also on SIGTERM or Ctrl-C.
 */
@Command(name = "soak", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Soak run: sustained concurrent writes to a fresh 3-node cluster of processes"
        + " (TCP bridge on 127.0.0.1, fsync on, frequent snapshots and small log segments) for a"
        + " fixed time, killing the leader (kill -9) and restarting it periodically.",
        "Samples each node's heap after GC, open files, threads and bytes on disk; at the end"
        + " verifies every acknowledged write on every node and that the figures stayed bounded."
        + " Prints a table and SOAK lines; exits 1 if a check fails."})
public final class Soak extends BenchBase implements Callable<Integer> {

  static final int NODES = 3;
  /** Held so that its level sticks (the logging framework keeps loggers weakly). */
  private static final Logger CONNECTION_LOG =
      Logger.getLogger("io.vertx.core.net.impl.ConnectionBase");
  private static final long MIB = 1L << 20;

  @Option(names = "--duration", defaultValue = "600",
      description = "seconds of writes; default ${DEFAULT-VALUE}")
  double duration;

  @Option(names = "--kill-every", defaultValue = "30",
      description = "seconds between leader kills (0: none); default ${DEFAULT-VALUE}")
  double killEvery;

  @Option(names = "--down", defaultValue = "3",
      description = "seconds a killed leader stays down before it restarts;"
          + " default ${DEFAULT-VALUE}")
  double down;

  @Option(names = "--seed", description = "seed of the random choices (keys written, kill times);"
      + " default: a random one, printed")
  Long seed;

  @Option(names = "--clients", defaultValue = "16",
      description = "concurrent writers, one write in flight each; default ${DEFAULT-VALUE}")
  int clients;

  @Option(names = "--keys", defaultValue = "1024",
      description = "size of the key space (keeps the state bounded); default ${DEFAULT-VALUE}")
  int keys;

  @Option(names = "--payload", defaultValue = "100",
      description = "bytes of each value; default ${DEFAULT-VALUE}")
  int payload;

  @Option(names = "--sample-every", defaultValue = "5",
      description = "seconds between samples of every node; default ${DEFAULT-VALUE}")
  double sampleEvery;

  @Option(names = "--snapshot-entries", defaultValue = "2000", description = "the nodes'"
      + " --snapshot-entries: entries applied between snapshots; default ${DEFAULT-VALUE}")
  long snapshotEntries;

  @Option(names = "--snapshot-trailing", defaultValue = "1024", description = "the nodes'"
      + " --snapshot-trailing: log entries kept below a snapshot; default ${DEFAULT-VALUE}")
  long snapshotTrailing;

  @Option(names = "--segment-bytes", defaultValue = "1048576", description = "the nodes'"
      + " --segment-bytes: log segment size, small so that covered segments are deleted often;"
      + " default ${DEFAULT-VALUE}")
  long segmentBytes;

  @Option(names = "--max-stall", defaultValue = "30", description = "longest time in seconds"
      + " without an acknowledged write before the run counts as stalled; default ${DEFAULT-VALUE}")
  double maxStall;

  @Option(names = "--growth-factor", defaultValue = "2", description = "disk bytes, log segments"
      + " and log entries are unbounded if their maximum over the last third of the run exceeds"
      + " this factor times their maximum over the first third plus a slack;"
      + " default ${DEFAULT-VALUE}")
  double growthFactor;

  @Option(names = "--disk-slack-mib", defaultValue = "8",
      description = "slack of the disk bound, MiB; default ${DEFAULT-VALUE}")
  long diskSlackMib;

  @Option(names = "--fd-slack", defaultValue = "48", description = "open files and threads are"
      + " unbounded if their maximum over the last third exceeds the first third's by more than"
      + " this; default ${DEFAULT-VALUE}")
  long fdSlack;

  @Option(names = "--heap-factor", defaultValue = "1.5", description = "the live heap (after a"
      + " forced full GC) is unbounded if at the end it exceeds this factor times its value at a"
      + " third of the run plus the slack below; default ${DEFAULT-VALUE}")
  double heapFactor;

  @Option(names = "--heap-slack-mib", defaultValue = "32",
      description = "slack of the live-heap bound, MiB; default ${DEFAULT-VALUE}")
  long heapSlackMib;

  /** One node at one sampling time; -1 for what could not be read. */
  record Sample(double t, String node, long pid, String role, long term, long commitIndex,
      long lastApplied, long snapshotIndex, long logEntries, long heapAfterGc, long rss,
      long fds, long threads, long disk, int segments, int snapshotFiles, String error) {
  }

  /** A figure of one node over the run; -1 where nothing was measured. */
  record Figure(String name, String node, long first, long max, long last, long earlyMax,
      long lateMax) {
  }

  /** One outcome check. */
  record Check(String name, boolean ok, String detail) {
  }

  /**
   * What a run found.
   *
   * @param seed the seed
   * @param acked writes acknowledged
   * @param failed writes known not to be applied
   * @param unknown writes of unknown outcome
   * @param lost (node, key) pairs whose value is older than an acknowledged write
   * @param late (node, key) pairs holding a write of unknown outcome older than the latest
   *     acknowledged one (allowed)
   * @param phantom (node, key) pairs holding a value never sent, or refused
   * @param diverged keys whose value differs between nodes
   * @param leaderKills leaders killed
   * @param elections terms begun during the load
   * @param maxStallMillis longest time without an acknowledged write
   * @param seconds seconds of load
   * @param figures the figures per node
   * @param snapshotIndex each node's snapshot index at the end
   * @param liveHeapMid each node's live heap at a third of the run (-1 if not measured)
   * @param liveHeapEnd each node's live heap at the end (-1 if not measured)
   * @param blockedThreadWarnings Vert.x blocked-thread warnings in each node's log
   * @param checks the checks
   */
  record Report(long seed, long acked, long failed, long unknown, long lost, long late,
      long phantom, long diverged, int leaderKills, long elections, long maxStallMillis,
      double seconds, List<Figure> figures, Map<String, Long> snapshotIndex,
      Map<String, Long> liveHeapMid, Map<String, Long> liveHeapEnd,
      Map<String, Long> blockedThreadWarnings, List<Check> checks) {

    /** @return true if every check passed */
    boolean passed() {
      return !checks.isEmpty() && checks.stream().allMatch(Check::ok);
    }

    /** @return the check of that name, or null */
    Check check(String name) {
      return checks.stream().filter(c -> c.name().equals(name)).findFirst().orElse(null);
    }
  }

  private final List<Sample> samples = Collections.synchronizedList(new ArrayList<>());
  private final Set<String> downOnPurpose = ConcurrentHashMap.newKeySet();
  private final List<String> events = Collections.synchronizedList(new ArrayList<>());
  private final Map<String, Long> liveHeapMid = new ConcurrentHashMap<>();
  private final Map<String, Long> liveHeapEnd = new ConcurrentHashMap<>();
  private final Map<String, Long> blockedWarnings = new ConcurrentHashMap<>();
  /** Nodes that had not applied the final write when the run gave up waiting. */
  private final Set<String> lagging = ConcurrentHashMap.newKeySet();
  private final SoakProbe probe = new SoakProbe();
  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(2)).build();
  private KvClient client;
  private SoakLoad load;
  private long loadStartNanos;
  private volatile boolean midHeapDone;
  private long lastSampleAcked;
  private int leaderKills;
  private volatile Report report;
  private volatile boolean finished;
  private volatile boolean loadStopped;
  private ScheduledExecutorService sampler;

  /** @return what the run found (after {@link #call()}), or null if it did not get that far */
  Report report() {
    return report;
  }

  @Override
  public Integer call() {
    long s = seed != null ? seed : new SecureRandom().nextLong();
    System.out.println("INFO soak seed=" + s + " (replay the random choices with --seed " + s
        + "; timing still differs)");
    Thread interrupted = new Thread(this::interrupted, "soak-interrupted");
    boolean ok = false;
    // Every leader kill resets the load generator's connections to it, which Vert.x reports as
    // SEVERE "Connection reset", one line per connection: expected here, counted as unknown writes.
    Level resetLevel = CONNECTION_LOG.getLevel();
    CONNECTION_LOG.setLevel(Level.OFF);
    try {
      prepare("raft-vertx-soak-");
      Runtime.getRuntime().addShutdownHook(interrupted);
      List<String> jvm = new ArrayList<>(jvmOptions());
      jvm.add("-Xlog:gc:file=" + work.resolve("{id}-gc-%p.log"));
      List<String> args = new ArrayList<>(nodeArgs);
      args.addAll(List.of("--snapshot-entries", String.valueOf(snapshotEntries),
          "--snapshot-trailing", String.valueOf(snapshotTrailing),
          "--segment-bytes", String.valueOf(segmentBytes)));
      cluster = new LocalCluster(work, NODES, jvm, args);
      cluster.startAll();
      System.out.println("INFO nodes " + cluster.ids() + " pids " + cluster.pids() + " jvm "
          + nodeJvmOptions + " node args " + args);
      warmUp();
      // The load generator's own event loop: the first requests load and initialise the HTTP
      // client's classes on it, which takes seconds when the machine is busy (the nodes start at
      // the same time). That is not the nodes' behaviour, which is what the soak watches (it
      // counts their blocked-thread warnings), so this client allows 10 s before warning.
      vertx = Vertx.vertx(new VertxOptions().setMaxEventLoopExecuteTime(10)
          .setMaxEventLoopExecuteTimeUnit(TimeUnit.SECONDS));
      client = KvClient.create(vertx, new KvClientOptions().setEndpoints(cluster.httpEndpoints())
          .setConnections(clients).setPipeliningLimit(1).setRequestTimeoutMillis(5000));
      awaitReady();
      ok = run(s);
      return ok ? 0 : 1;
    } catch (Exception e) {
      System.err.println("soak failed: " + e);
      e.printStackTrace();
      printNodeLogs();
      return 1;
    } finally {
      finished = true;
      if (sampler != null) {
        sampler.shutdownNow();
      }
      if (load != null) {
        load.stop();
      }
      CONNECTION_LOG.setLevel(resetLevel);
      try {
        Runtime.getRuntime().removeShutdownHook(interrupted);
      } catch (IllegalStateException | IllegalArgumentException e) {
        // shutting down, or never added
      }
      if (!ok && work != null && !keepWork) {
        keepWork = true;
        System.out.println("INFO the run failed: keeping its work directory (node logs, GC logs,"
            + " data) for inspection");
      }
      cleanUp();
    }
  }

  private boolean run(long s) throws Exception {
    long term0 = maxTerm();
    Random random = new Random(s);
    load = new SoakLoad(vertx, client, clients, keys, payload, s);
    sampler = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "soak-sampler");
      t.setDaemon(true);
      return t;
    });
    loadStartNanos = System.nanoTime();
    load.start();
    System.out.printf(Locale.ROOT, "INFO load: %d clients, %d keys, %d-byte values, %.0f s;"
        + " leader killed every %.0f s for %.0f s; a sample every %.0f s%n", clients, keys,
        payload, duration, killEvery, down, sampleEvery);
    sampler.scheduleAtFixedRate(this::sampleSafely, 0,
        Math.max(100, Math.round(sampleEvery * 1000)), TimeUnit.MILLISECONDS);
    killLoop(random);
    try {
      load.stop().toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
      loadStopped = true;
    } catch (java.util.concurrent.TimeoutException e) {
      events.add("writes still in flight 60 s after the load stopped");
    }
    double seconds = elapsed();
    sampler.shutdown();
    sampler.awaitTermination(60, TimeUnit.SECONDS);
    System.out.printf(Locale.ROOT, "INFO load stopped after %.1f s: %d acknowledged, %d failed,"
        + " %d unknown%n", seconds, load.ackCount(), load.failCount(), load.unknownCount());
    if (load.lastFailure() != null) {
      System.out.println("INFO the last refused write: " + load.lastFailure());
    }
    if (load.lastUnknown() != null) {
      System.out.println("INFO the last write of unknown outcome: " + load.lastUnknown());
    }
    for (String id : cluster.ids()) {
      if (cluster.process(id) == null) {
        noteExit(id);
        cluster.start(id);
        downOnPurpose.remove(id);
      }
    }
    String converged = converge();
    sampleSafely();
    String compacted = awaitCompaction();
    System.out.println("INFO live heap after a forced full GC, at the end");
    for (String id : cluster.ids()) {
      Process p = cluster.process(id);
      liveHeapEnd.put(id, p == null ? -1 : SoakProbe.liveHeapAfterFullGc(p.pid()));
    }
    long term1 = maxTerm();
    for (String id : cluster.ids()) {
      blockedWarnings.put(id, countLines(cluster.node(id).log(), "has been blocked for"));
    }
    Verification v = verify();
    report = evaluate(s, seconds, converged, compacted, v, Math.max(0, term1 - term0));
    print(report);
    return report.passed();
  }

  /**
   * Does on this thread the one-time initialisation that the first request would otherwise do on
   * the client's event loop: Netty registers its JFR events when it first allocates a buffer
   * chunk, and Jackson starts up on the first JSON; on a busy machine either takes seconds.
   */
  private static void warmUp() {
    io.netty.buffer.ByteBuf b = io.netty.buffer.ByteBufAllocator.DEFAULT.directBuffer(64 << 10);
    b.release();
    new JsonObject("{\"warm\":[1,\"up\"]}").encode();
  }

  // ---- the leader killer ----

  private void killLoop(Random random) throws Exception {
    long end = loadStartNanos + nanos(duration);
    int round = 1;
    while (true) {
      long at = killEvery <= 0 ? end : loadStartNanos + nanos(round * killEvery
          + (random.nextDouble() - 0.5) * 0.4 * killEvery);
      sleepUntil(Math.min(at, end));
      if (System.nanoTime() >= end) {
        return;
      }
      round++;
      String leader = awaitLeader(15_000);
      if (leader == null) {
        events.add(String.format(Locale.ROOT, "t=%.1f no leader to kill", elapsed()));
        System.out.printf(Locale.ROOT, "KILL t=%.1f no leader found to kill%n", elapsed());
        continue;
      }
      downOnPurpose.add(leader);
      long pid = cluster.process(leader) == null ? -1 : cluster.process(leader).pid();
      cluster.kill(leader);
      leaderKills++;
      System.out.printf(Locale.ROOT, "KILL t=%.1f leader %s (pid %d) killed with SIGKILL%n",
          elapsed(), leader, pid);
      sleepUntil(Math.min(end, System.nanoTime() + nanos(down)));
      cluster.start(leader);
      downOnPurpose.remove(leader);
      System.out.printf(Locale.ROOT, "KILL t=%.1f %s restarted (pid %d)%n", elapsed(), leader,
          cluster.process(leader) == null ? -1 : cluster.process(leader).pid());
    }
  }

  private static long nanos(double seconds) {
    return Math.round(seconds * 1e9);
  }

  private static void sleepUntil(long nanoTime) throws InterruptedException {
    long left;
    while ((left = nanoTime - System.nanoTime()) > 0) {
      Thread.sleep(Math.max(1, Math.min(1000, left / 1_000_000)));
    }
  }

  private double elapsed() {
    return (System.nanoTime() - loadStartNanos) / 1e9;
  }

  // ---- talking to the nodes ----

  private JsonObject status(String id) {
    HttpResponse<String> r = get(id, "/status");
    try {
      return r != null && r.statusCode() == 200 ? new JsonObject(r.body()) : null;
    } catch (RuntimeException e) {
      return null;
    }
  }

  private HttpResponse<String> get(String id, String path) {
    try {
      HttpRequest req = HttpRequest.newBuilder(URI.create("http://" + cluster.node(id).http()
          + path)).timeout(Duration.ofSeconds(5)).GET().build();
      return http.send(req, HttpResponse.BodyHandlers.ofString());
    } catch (java.io.IOException e) {
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    }
  }

  /** @return the id of a node that says it leads (the highest term), or null after the wait */
  private String awaitLeader(long millis) throws InterruptedException {
    long deadline = System.currentTimeMillis() + millis;
    do {
      String best = null;
      long bestTerm = -1;
      for (String id : cluster.ids()) {
        JsonObject st = cluster.process(id) == null ? null : status(id);
        if (st != null && "leader".equals(st.getString("role"))
            && st.getLong("term", 0L) > bestTerm) {
          best = id;
          bestTerm = st.getLong("term");
        }
      }
      if (best != null) {
        return best;
      }
      Thread.sleep(100);
    } while (System.currentTimeMillis() < deadline);
    return null;
  }

  private long maxTerm() {
    long max = -1;
    for (String id : cluster.ids()) {
      JsonObject st = status(id);
      if (st != null) {
        max = Math.max(max, st.getLong("term", -1L));
      }
    }
    return max;
  }

  private void awaitReady() throws Exception {
    long deadline = System.currentTimeMillis() + 60_000;
    Throwable last = null;
    while (System.currentTimeMillis() < deadline) {
      for (String id : cluster.ids()) {
        if (cluster.process(id) == null) {
          throw new IllegalStateException("node " + id + " exited at start-up:\n"
              + cluster.tail(id, 20));
        }
      }
      try {
        client.put("soak-ready", Buffer.buffer("1")).await(15, TimeUnit.SECONDS);
        System.out.println("INFO cluster ready, leader " + awaitLeader(10_000));
        return;
      } catch (Exception e) {
        last = e;
        Thread.sleep(200);
      }
    }
    throw new IllegalStateException("the cluster did not become ready in 60 s: " + last);
  }

  /**
   * After the load: one more acknowledged write, then waits until every node has applied it.
   *
   * @return null once converged, else what went wrong
   */
  private String converge() throws InterruptedException {
    long deadline = System.currentTimeMillis() + 120_000;
    long index = -1;
    Throwable last = null;
    while (index < 0 && System.currentTimeMillis() < deadline) {
      try {
        index = client.put("soak-end", Buffer.buffer("1")).await(15, TimeUnit.SECONDS);
      } catch (Exception e) {
        last = e;
        Thread.sleep(200);
      }
    }
    if (index < 0) {
      return "no write was acknowledged in the 120 s after the load: " + last;
    }
    Map<String, Long> applied = new LinkedHashMap<>();
    while (System.currentTimeMillis() < deadline) {
      applied.clear();
      for (String id : cluster.ids()) {
        JsonObject st = status(id);
        applied.put(id, st == null ? -1 : st.getLong("lastApplied", -1L));
      }
      long target = index;
      if (applied.values().stream().allMatch(a -> a >= target)) {
        System.out.printf(Locale.ROOT, "INFO converged: every node applied index %d (%s)%n",
            index, applied);
        return null;
      }
      Thread.sleep(200);
    }
    long target = index;
    applied.forEach((id, a) -> {
      if (a < target) {
        lagging.add(id);
        System.out.println("INFO " + id + " did not catch up (applied " + a + " of " + target
            + "); the last lines of its log:\n" + cluster.tail(id, 12));
      }
    });
    return "not every node applied index " + index + " within 120 s: " + applied
        + " (the values of " + lagging + " are not checked against the acknowledged writes)";
  }

  /**
   * Once the cluster is quiet, every node must have deleted its older snapshots and every log
   * segment wholly covered by its latest snapshot less the trailing entries. Compaction runs
   * after a snapshot completes, so this waits up to 15 s for it.
   *
   * @return null if so, else what remains on which node
   */
  private String awaitCompaction() throws InterruptedException {
    long deadline = System.currentTimeMillis() + 15_000;
    String problem;
    do {
      StringBuilder p = new StringBuilder();
      for (String id : cluster.ids()) {
        JsonObject st = status(id);
        if (st == null) {
          p.append(id).append(": no status; ");
          continue;
        }
        String left = leftOver(cluster.node(id).dataDir(), st.getLong("snapshotIndex", 0L),
            snapshotTrailing);
        if (left != null) {
          p.append(id).append(": ").append(left).append("; ");
        }
      }
      problem = p.length() == 0 ? null : p.toString();
      if (problem != null) {
        Thread.sleep(500);
      }
    } while (problem != null && System.currentTimeMillis() < deadline);
    return problem;
  }

  /**
   * @param dataDir a node's data directory
   * @param snapshotIndex its latest snapshot's index
   * @param trailing entries it keeps below a snapshot
   * @return what a finished compaction would have deleted, or null if nothing
   */
  static String leftOver(Path dataDir, long snapshotIndex, long trailing) {
    List<Long> firsts = new ArrayList<>();
    List<String> snapshots = new ArrayList<>();
    try (java.util.stream.Stream<Path> files = java.nio.file.Files.list(dataDir)) {
      for (Path f : files.toList()) {
        String n = f.getFileName().toString();
        if (n.startsWith("log-") && n.endsWith(".seg")) {
          firsts.add(Long.parseLong(n.substring(4, n.length() - 4)));
        }
      }
    } catch (java.io.IOException | RuntimeException e) {
      return "cannot list " + dataDir + ": " + e;
    }
    Path snapDir = dataDir.resolve("snapshots");
    if (java.nio.file.Files.isDirectory(snapDir)) {
      try (java.util.stream.Stream<Path> files = java.nio.file.Files.list(snapDir)) {
        files.map(f -> f.getFileName().toString()).filter(n -> n.startsWith("snapshot-"))
            .forEach(snapshots::add);
      } catch (java.io.IOException | RuntimeException e) {
        return "cannot list " + snapDir + ": " + e;
      }
    }
    Collections.sort(firsts);
    long compactTo = Math.max(0, snapshotIndex - trailing);
    List<String> left = new ArrayList<>();
    for (int i = 0; i + 1 < firsts.size(); i++) {
      if (firsts.get(i + 1) - 1 <= compactTo) {
        left.add("segment " + firsts.get(i) + ".." + (firsts.get(i + 1) - 1));
      }
    }
    if (!left.isEmpty()) {
      left.add(0, "covered by snapshot " + snapshotIndex + " less " + trailing + " entries:");
    }
    if (snapshotIndex > 0 && snapshots.size() != 1) {
      left.add(snapshots.size() + " snapshot files " + snapshots);
    }
    return left.isEmpty() ? null : String.join(" ", left);
  }

  // ---- sampling ----

  private void sampleSafely() {
    try {
      sample();
    } catch (RuntimeException e) {
      events.add("sampling failed: " + e);
    }
  }

  private void noteExit(String id) {
    Integer code = cluster.exitedOnItsOwn(id);
    if (code != null && !downOnPurpose.contains(id)) {
      String e = String.format(Locale.ROOT, "t=%.1f node %s exited on its own with code %d;"
          + " last lines of its log:%n%s", elapsed(), id, code, cluster.tail(id, 15));
      if (events.stream().noneMatch(x -> x.contains("node " + id + " exited"))) {
        events.add(e);
        System.out.println("EVENT " + e);
      }
    }
  }

  private void sample() {
    double t = elapsed();
    StringBuilder line = new StringBuilder();
    long acked = load.ackCount();
    line.append(String.format(Locale.ROOT, "SAMPLE t=%.0f acked=%d (+%d)", t, acked,
        acked - lastSampleAcked));
    lastSampleAcked = acked;
    for (String id : cluster.ids()) {
      LocalCluster.Node n = cluster.node(id);
      Process p = cluster.process(id);
      if (p == null) {
        noteExit(id);
        line.append(" | ").append(id).append(" down");
        continue;
      }
      long pid = p.pid();
      JsonObject st = status(id);
      long logEntries = -1;
      HttpResponse<String> m = get(id, "/metrics");
      if (m != null && m.statusCode() == 200) {
        logEntries = metric(m.body(), "raft_log_entries");
      }
      SoakProbe.Disk disk = SoakProbe.disk(n.dataDir());
      long heap = probe.heapAfterGc(work.resolve(id + "-gc-" + pid + ".log"));
      long rssKb = SoakProbe.procStatus(pid, "VmRSS");
      String error = st == null ? null : st.getString("error");
      Sample smp = new Sample(t, id, pid, st == null ? "?" : st.getString("role"),
          st == null ? -1 : st.getLong("term", -1L),
          st == null ? -1 : st.getLong("commitIndex", -1L),
          st == null ? -1 : st.getLong("lastApplied", -1L),
          st == null ? -1 : st.getLong("snapshotIndex", -1L), logEntries, heap,
          rssKb < 0 ? -1 : rssKb << 10, SoakProbe.openFiles(pid),
          SoakProbe.procStatus(pid, "Threads"), disk.bytes(), disk.segments(), disk.snapshots(),
          error);
      samples.add(smp);
      if (error != null && events.stream().noneMatch(x -> x.contains("node " + id + " halted"))) {
        String e = String.format(Locale.ROOT, "t=%.1f node %s halted: %s", t, id, error);
        events.add(e);
        System.out.println("EVENT " + e);
      }
      line.append(String.format(Locale.ROOT, " | %s %s t%d heap=%s fd=%d thr=%d disk=%s seg=%d"
          + " snap=%d log=%d", id, abbreviate(smp.role()), smp.term(), mib(heap), smp.fds(),
          smp.threads(), mib(smp.disk()), smp.segments(), smp.snapshotIndex(), logEntries));
    }
    System.out.println(line);
    if (!midHeapDone && t >= duration / 3 && !finished) {
      midHeapDone = true;
      StringBuilder mid = new StringBuilder("INFO live heap after a forced full GC at t="
          + Math.round(t) + ":");
      for (String id : cluster.ids()) {
        Process p = cluster.process(id);
        long live = p == null ? -1 : SoakProbe.liveHeapAfterFullGc(p.pid());
        liveHeapMid.put(id, live);
        mid.append(' ').append(id).append('=').append(mib(live));
      }
      System.out.println(mid);
    }
  }

  private static String abbreviate(String role) {
    return role == null ? "?" : switch (role) {
      case "leader" -> "L";
      case "follower" -> "F";
      case "candidate", "pre_candidate" -> "C";
      default -> "?";
    };
  }

  /** @return the value of the first sample of a Prometheus metric, or -1 */
  static long metric(String text, String name) {
    for (String l : text.split("\n")) {
      if (l.startsWith(name + "{") || l.startsWith(name + " ")) {
        String v = l.substring(l.lastIndexOf(' ') + 1);
        try {
          return (long) Double.parseDouble(v);
        } catch (NumberFormatException e) {
          return -1;
        }
      }
    }
    return -1;
  }

  static String mib(long bytes) {
    return bytes < 0 ? "-" : String.format(Locale.ROOT, "%.1fM", bytes / (double) MIB);
  }

  // ---- the end: verification and figures ----

  private record Verification(long lost, long late, long phantom, long diverged, long unreadable,
      List<String> problems) {
  }

  private Verification verify() {
    long lost = 0;
    long late = 0;
    long phantom = 0;
    long diverged = 0;
    long unreadable = 0;
    List<String> problems = new ArrayList<>();
    for (int k = 0; k < keys; k++) {
      String key = SoakLoad.key(k);
      long acked = load.acked(k);
      long attempted = load.attempted(k);
      String first = null;
      boolean firstSet = false;
      for (String id : cluster.ids()) {
        HttpResponse<String> r = get(id, "/kv/" + URLEncoder.encode(key, StandardCharsets.UTF_8)
            + "?consistency=stale");
        if (r == null || (r.statusCode() != 200 && r.statusCode() != 404)) {
          unreadable++;
          note(problems, id + " " + key + ": unreadable (" + (r == null ? "no answer"
              : r.statusCode() + " " + r.body()) + ")");
          continue;
        }
        String value = r.statusCode() == 200 ? r.body() : null;
        if (lagging.contains(id)) {
          continue; // behind: its values say nothing about lost writes (the converged check fails)
        }
        if (!firstSet) {
          first = value;
          firstSet = true;
        } else if (!java.util.Objects.equals(first, value)) {
          diverged++;
          note(problems, key + ": " + id + " holds " + shortValue(value) + ", another node "
              + shortValue(first));
        }
        long v = value == null ? 0 : SoakLoad.counterOf(value);
        Verdict verdict = judge(v, acked, attempted, load.failed(k, v), load.unknown(k, v));
        switch (verdict) {
          case LOST -> {
            lost++;
            note(problems, id + " " + key + ": holds " + shortValue(value) + ", older than"
                + " write " + acked + ", which was acknowledged");
          }
          case PHANTOM -> {
            phantom++;
            note(problems, id + " " + key + ": holds " + shortValue(value) + ", which was never"
                + " sent or was refused (highest sent " + attempted + ")");
          }
          case LATE -> late++;
          default -> {
            // as expected
          }
        }
      }
    }
    return new Verification(lost, late, phantom, diverged, unreadable, problems);
  }

  private static long countLines(Path file, String text) {
    try (java.util.stream.Stream<String> lines = java.nio.file.Files.lines(file,
        StandardCharsets.ISO_8859_1)) {
      return lines.filter(l -> l.contains(text)).count();
    } catch (java.io.IOException | java.io.UncheckedIOException e) {
      return -1;
    }
  }

  /** What a replica's value of one key says. */
  enum Verdict {
    /** At least the latest acknowledged write, or none was acknowledged and it is consistent. */
    OK,
    /** Older than the latest acknowledged write, from a write of unknown outcome (allowed). */
    LATE,
    /** Older than the latest acknowledged write: an acknowledged write was lost. */
    LOST,
    /** A value never sent, or of a write that was refused as not applied. */
    PHANTOM
  }

  /**
   * Judges a replica's value of one key. The key's writes carry increasing counters and are
   * sent one after another, so its final value must come from a write that was not refused and
   * must not be older than the latest acknowledged one, unless that older write's outcome is
   * unknown (it may have taken effect at any time after it was sent).
   *
   * @param value the counter held, 0 if the key is absent, -1 if the value carries none
   * @param acked the highest counter acknowledged, 0 if none
   * @param attempted the highest counter sent, 0 if none
   * @param refused true if the write of {@code value} was refused (known not applied)
   * @param unknown true if the outcome of the write of {@code value} is unknown
   * @return the verdict
   */
  static Verdict judge(long value, long acked, long attempted, boolean refused,
      boolean unknown) {
    if (value < 0 || value > attempted || (value > 0 && refused)) {
      return Verdict.PHANTOM;
    }
    if (value >= acked) {
      return Verdict.OK;
    }
    return value > 0 && unknown ? Verdict.LATE : Verdict.LOST;
  }

  private static void note(List<String> problems, String p) {
    if (problems.size() < 20) {
      problems.add(p);
    }
  }

  private static String shortValue(String v) {
    return v == null ? "nothing" : "'" + (v.length() > 12 ? v.substring(0, 12) + "..." : v) + "'";
  }

  private Figure figure(String name, String node, ToLongFunction<Sample> f) {
    List<Sample> all;
    synchronized (samples) {
      all = List.copyOf(samples);
    }
    return figure(all, duration, name, node, f);
  }

  /**
   * @param samples samples of the run
   * @param duration the run's length in seconds
   * @param name the figure's name
   * @param node a node
   * @param f the figure in a sample (negative: not measured)
   * @return its first, maximum and last value, its maximum over the first third of the run
   *     (t below duration/3) and over the last third (t from 2/3 duration on); -1 where none
   */
  static Figure figure(List<Sample> samples, double duration, String name, String node,
      ToLongFunction<Sample> f) {
    long first = -1;
    long max = -1;
    long last = -1;
    long early = -1;
    long late = -1;
    for (Sample x : samples) {
      long v = x.node().equals(node) ? f.applyAsLong(x) : -1;
      if (v < 0) {
        continue;
      }
      if (first < 0) {
        first = v;
      }
      max = Math.max(max, v);
      last = v;
      if (x.t() < duration / 3) {
        early = Math.max(early, v);
      }
      if (x.t() >= duration * 2 / 3) {
        late = Math.max(late, v);
      }
    }
    return new Figure(name, node, first, max, last, early, late);
  }

  private static final List<String> FIGURES = List.of("heap_after_gc_bytes", "rss_bytes", "fds",
      "threads", "disk_bytes", "log_segments", "snapshot_files", "log_entries", "snapshot_index",
      "commit_index");

  private static ToLongFunction<Sample> extractor(String name) {
    return switch (name) {
      case "heap_after_gc_bytes" -> Sample::heapAfterGc;
      case "rss_bytes" -> Sample::rss;
      case "fds" -> Sample::fds;
      case "threads" -> Sample::threads;
      case "disk_bytes" -> Sample::disk;
      case "log_segments" -> Sample::segments;
      case "snapshot_files" -> Sample::snapshotFiles;
      case "log_entries" -> Sample::logEntries;
      case "snapshot_index" -> Sample::snapshotIndex;
      case "commit_index" -> Sample::commitIndex;
      default -> throw new IllegalArgumentException(name);
    };
  }

  /**
   * A figure is bounded on every node if its maximum over the last third of the run is at most
   * {@code factor} times its maximum over the first third plus {@code slack}.
   *
   * @param what the check's name
   * @param figures the figures of every node
   * @param name the figure checked
   * @param factor the growth factor allowed
   * @param slack the absolute slack
   * @return the check; it fails also where a node was not sampled in both thirds
   */
  static Check bounded(String what, List<Figure> figures, String name, double factor,
      long slack) {
    List<String> broken = new ArrayList<>();
    StringBuilder detail = new StringBuilder();
    for (Figure f : figures) {
      if (!f.name().equals(name)) {
        continue;
      }
      long limit = Math.round(factor * f.earlyMax()) + slack;
      detail.append(detail.length() == 0 ? "" : "; ").append(f.node()).append(" first third max ")
          .append(f.earlyMax()).append(", last third max ").append(f.lateMax())
          .append(" (limit ").append(limit).append(')');
      if (f.earlyMax() < 0 || f.lateMax() < 0) {
        broken.add(f.node() + " not sampled in both thirds");
      } else if (f.lateMax() > limit) {
        broken.add(f.node());
      }
    }
    if (detail.length() == 0) {
      broken.add("no figure " + name);
    }
    return new Check(what, broken.isEmpty(), (broken.isEmpty() ? "" : "broken: " + broken + "; ")
        + detail);
  }

  private Report evaluate(long s, double seconds, String converged, String compacted,
      Verification v, long elections) {
    List<Figure> figures = new ArrayList<>();
    for (String name : FIGURES) {
      for (String id : cluster.ids()) {
        figures.add(figure(name, id, extractor(name)));
      }
    }
    Map<String, Long> snapshots = new LinkedHashMap<>();
    for (String id : cluster.ids()) {
      snapshots.put(id, figure("snapshot_index", id, Sample::snapshotIndex).last());
    }
    List<Check> checks = new ArrayList<>();
    checks.add(new Check("no_acknowledged_write_lost", v.lost() == 0 && v.unreadable() == 0,
        v.lost() + " lost, " + v.unreadable() + " unreadable (keys x nodes); " + v.late()
            + " hold a later-applied write of unknown outcome (allowed)"));
    checks.add(new Check("no_phantom_or_refused_write", v.phantom() == 0,
        v.phantom() + " (keys x nodes)"));
    checks.add(new Check("replicas_agree", v.diverged() == 0, v.diverged() + " keys differ"));
    checks.add(new Check("converged", converged == null,
        converged == null ? "every node applied the final write" : converged));
    checks.add(new Check("compaction_done", compacted == null, compacted == null
        ? "at the end every node holds one snapshot file and no log segment its snapshot covers"
        : compacted));
    long stall = load.maxStallMillis();
    checks.add(new Check("progress", load.ackCount() > 0 && stall <= maxStall * 1000
        && loadStopped, load.ackCount() + " acknowledged; longest time without an acknowledged"
            + " write " + stall + " ms (limit " + Math.round(maxStall * 1000) + " ms)"
            + (loadStopped ? "" : "; writes were still in flight 60 s after the load stopped")));
    List<String> bad;
    List<String> samplingFailures;
    synchronized (events) {
      bad = events.stream().filter(e -> e.contains("exited on its own") || e.contains("halted"))
          .toList();
      samplingFailures = events.stream().filter(e -> e.startsWith("sampling failed")).toList();
    }
    checks.add(new Check("no_node_died_or_halted", bad.isEmpty(),
        bad.isEmpty() ? "every node ran until killed or stopped" : String.join(" / ", bad)));
    checks.add(new Check("sampling_worked", samplingFailures.isEmpty(),
        samplingFailures.isEmpty() ? samples.size() + " samples"
            : String.join(" / ", samplingFailures)));
    boolean expectSnapshots = load.ackCount() >= 2 * snapshotEntries;
    boolean snapshotted = snapshots.values().stream().allMatch(i -> i > 0);
    checks.add(new Check("snapshots_on_every_node", snapshotted || !expectSnapshots,
        "snapshot index " + snapshots + (expectSnapshots ? "" : " (too few writes to expect one)")));
    checks.add(bounded("disk_bounded", figures, "disk_bytes", growthFactor, diskSlackMib * MIB));
    checks.add(bounded("log_segments_bounded", figures, "log_segments", growthFactor, 4));
    checks.add(bounded("snapshot_files_bounded", figures, "snapshot_files", 1, 3));
    checks.add(bounded("log_entries_bounded", figures, "log_entries", growthFactor,
        10 * snapshotEntries));
    checks.add(bounded("fds_bounded", figures, "fds", 1, fdSlack));
    checks.add(bounded("threads_bounded", figures, "threads", 1, fdSlack));
    List<String> heapBroken = new ArrayList<>();
    StringBuilder heapDetail = new StringBuilder();
    for (String id : cluster.ids()) {
      long mid = liveHeapMid.getOrDefault(id, -1L);
      long end = liveHeapEnd.getOrDefault(id, -1L);
      long limit = Math.round(heapFactor * mid) + heapSlackMib * MIB;
      heapDetail.append(heapDetail.length() == 0 ? "" : "; ").append(id).append(" at a third ")
          .append(mib(mid)).append(", at the end ").append(mib(end)).append(" (limit ")
          .append(mib(limit)).append(')');
      if (end < 0) {
        heapBroken.add(id + " not measured at the end");
      } else if (mid >= 0 && end > limit) {
        heapBroken.add(id);
      }
    }
    if (liveHeapMid.values().stream().noneMatch(x -> x >= 0)) {
      heapBroken.add("not measured at a third of the run");
    }
    checks.add(new Check("live_heap_bounded", heapBroken.isEmpty(),
        (heapBroken.isEmpty() ? "" : "broken: " + heapBroken + "; ") + heapDetail));
    if (!v.problems().isEmpty()) {
      System.out.println("INFO verification problems (first " + v.problems().size() + "):");
      v.problems().forEach(p -> System.out.println("  " + p));
    }
    return new Report(s, load.ackCount(), load.failCount(), load.unknownCount(), v.lost(),
        v.late(), v.phantom(), v.diverged(), leaderKills, elections, stall, seconds,
        List.copyOf(figures), snapshots, Map.copyOf(liveHeapMid), Map.copyOf(liveHeapEnd),
        Map.copyOf(blockedWarnings), List.copyOf(checks));
  }

  private static String human(String name, long v) {
    if (v < 0) {
      return "-";
    }
    return name.endsWith("_bytes") ? mib(v) : String.valueOf(v);
  }

  private void print(Report r) {
    System.out.println();
    System.out.printf(Locale.ROOT, "Soak: %.0f s of writes, %d leader kills, seed %d, machine"
        + " loadavg %s%n", r.seconds(), r.leaderKills(), r.seed(), CpuProbe.loadAverages());
    System.out.printf(Locale.ROOT, "%-20s %-4s %10s %10s %10s %16s %16s%n", "figure", "node",
        "first", "max", "last", "max 1st third", "max last third");
    for (Figure f : r.figures()) {
      System.out.printf(Locale.ROOT, "%-20s %-4s %10s %10s %10s %16s %16s%n", f.name(), f.node(),
          human(f.name(), f.first()), human(f.name(), f.max()), human(f.name(), f.last()),
          human(f.name(), f.earlyMax()), human(f.name(), f.lateMax()));
    }
    for (String id : cluster.ids()) {
      System.out.printf(Locale.ROOT, "%-20s %-4s %10s %10s %10s%n", "live_heap_bytes", id,
          mib(r.liveHeapMid().getOrDefault(id, -1L)), "",
          mib(r.liveHeapEnd().getOrDefault(id, -1L)));
    }
    for (String id : cluster.ids()) {
      System.out.printf(Locale.ROOT, "%-20s %-4s %10s %10s %10d%n", "blocked_thread_warns", id,
          "", "", r.blockedThreadWarnings().getOrDefault(id, -1L));
    }
    System.out.println("(live heap: after a forced full GC at a third of the run and at the"
        + " end; heap_after_gc: after the latest collection the node's GC log shows;"
        + " blocked_thread_warns: Vert.x blocked-thread warnings in the node's log, all its"
        + " lives; reported, not checked: they measure how busy the machine is as much as the"
        + " node)");
    System.out.println();
    System.out.printf(Locale.ROOT, "SOAK seed=%d duration_s=%.1f nodes=%d clients=%d keys=%d"
        + " payload=%d snapshot_entries=%d segment_bytes=%d kill_every_s=%.0f down_s=%.0f%n",
        r.seed(), r.seconds(), NODES, clients, keys, payload, snapshotEntries, segmentBytes,
        killEvery, down);
    System.out.printf(Locale.ROOT, "SOAK writes acked=%d failed=%d unknown=%d lost=%d"
        + " late_unknown=%d phantom=%d diverged=%d acked_per_s=%.0f max_stall_ms=%d%n",
        r.acked(), r.failed(), r.unknown(), r.lost(), r.late(), r.phantom(), r.diverged(),
        r.acked() / Math.max(1e-9, r.seconds()), r.maxStallMillis());
    System.out.printf(Locale.ROOT, "SOAK faults leader_kills=%d elections=%d%n", r.leaderKills(),
        r.elections());
    for (Figure f : r.figures()) {
      System.out.printf(Locale.ROOT, "SOAK figure=%s node=%s first=%d max=%d last=%d"
          + " first_third_max=%d last_third_max=%d%n", f.name(), f.node(), f.first(), f.max(),
          f.last(), f.earlyMax(), f.lateMax());
    }
    for (String id : cluster.ids()) {
      System.out.printf(Locale.ROOT, "SOAK figure=live_heap_bytes node=%s third=%d end=%d%n", id,
          r.liveHeapMid().getOrDefault(id, -1L), r.liveHeapEnd().getOrDefault(id, -1L));
    }
    for (String id : cluster.ids()) {
      System.out.printf(Locale.ROOT, "SOAK figure=blocked_thread_warnings node=%s count=%d%n", id,
          r.blockedThreadWarnings().getOrDefault(id, -1L));
    }
    for (Check c : r.checks()) {
      System.out.println("SOAK check=" + c.name() + " ok=" + c.ok() + " detail=\"" + c.detail()
          + "\"");
    }
    synchronized (events) {
      events.forEach(e -> System.out.println("INFO event: " + e));
    }
    System.out.println("SOAK result=" + (r.passed() ? "PASS" : "FAIL"));
  }

  /** Ctrl-C or SIGTERM in the middle: say so and what was counted; clean-up runs beside it. */
  private void interrupted() {
    if (finished) {
      return;
    }
    SoakLoad l = load;
    System.out.printf(Locale.ROOT, "SOAK result=INTERRUPTED after %.1f s of load: acked=%d"
        + " failed=%d unknown=%d leader_kills=%d samples=%d%n",
        l == null ? 0 : elapsed(), l == null ? 0 : l.ackCount(), l == null ? 0 : l.failCount(),
        l == null ? 0 : l.unknownCount(), leaderKills, samples.size());
  }

  /** @return where the node processes' data and logs are (for tests) */
  Path workDirectory() {
    return work;
  }
}
