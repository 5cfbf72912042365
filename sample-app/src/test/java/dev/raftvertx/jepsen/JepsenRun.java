package dev.raftvertx.jepsen;

import dev.raftvertx.jepsen.LinearizabilityChecker.Verdict;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * One Jepsen-style run: starts a cluster of sample-app processes behind the fault proxy, runs
 * concurrent clients and a nemesis for a while, heals everything, reads every key once more,
 * checks that the replicas agree, checks the history for linearizability and lost acknowledged
 * writes, and writes the history (JSON lines) and a summary under the run's directory.
 */
public final class JepsenRun implements AutoCloseable {

  /**
   * What to run.
   *
   * @param name the run's name (its directory under target/jepsen)
   * @param nodes cluster size
   * @param schedule the faults
   * @param seconds how long clients and nemesis run
   * @param seed the seed of every random choice
   * @param clients concurrent clients
   * @param keySlots keys in use at a time
   * @param opsPerKey operations on a key before it is replaced
   * @param staleReads clients read with {@code ?consistency=stale}: not linearizable, to show
   *     the harness catches it
   */
  public record Config(String name, int nodes, Nemesis.Schedule schedule, int seconds, long seed,
      int clients, int keySlots, int opsPerKey, boolean staleReads) {
  }

  /**
   * What a run found.
   *
   * @param history every operation, the final reads included
   * @param check the linearizability verdict
   * @param lost acknowledged writes the final reads show lost
   * @param divergent keys on which a replica disagrees with the final read, once all applied the
   *     same log
   * @param unreadKeys keys whose final read never succeeded
   * @param problems anything else that went wrong: nodes that halted, a cluster that did not
   *     recover once healed
   * @param faults faults injected by kind
   * @param text the printed report
   * @param historyFile where the history was written
   */
  public record Report(List<Op> history, LinearizabilityChecker.Result check,
      List<LostWrites.Lost> lost, List<String> divergent, List<String> unreadKeys,
      List<String> problems, Map<String, Integer> faults, String text, Path historyFile) {

    /** @return true if nothing is wrong */
    public boolean passed() {
      return check.verdict() == Verdict.LINEARIZABLE && lost.isEmpty() && divergent.isEmpty()
          && unreadKeys.isEmpty() && problems.isEmpty();
    }

    /** @return the number of operations with that outcome */
    public long count(Op.Outcome outcome) {
      return history.stream().filter(o -> o.outcome() == outcome).count();
    }
  }

  private final Config config;
  private final Path dir;
  private final ExecutorService threads = Executors.newCachedThreadPool(r -> {
    Thread t = new Thread(r, "jepsen");
    t.setDaemon(true);
    return t;
  });
  private NodeProcesses cluster;

  /**
   * @param config what to run
   * @param baseDir the directory that holds run directories
   */
  public JepsenRun(Config config, Path baseDir) {
    this.config = config;
    this.dir = baseDir.resolve(config.name()).toAbsolutePath();
  }

  /** Runs it. */
  public Report run() throws Exception {
    deleteRecursively(dir);
    Files.createDirectories(dir);
    StringWriter out = new StringWriter();
    PrintWriter p = new PrintWriter(out);
    p.printf("=== Jepsen-style run %s: %d nodes, schedule %s, %d s, %d clients, seed %d%n",
        config.name(), config.nodes(), config.schedule(), config.seconds(), config.clients(),
        config.seed());
    p.printf("    replay: -Djepsen.seed=%d (same random choices; timing differs)%n",
        config.seed());
    // small snapshot thresholds: restarted and partitioned nodes often catch up by InstallSnapshot
    cluster = new NodeProcesses(config.nodes(), dir, "jepsen",
        List.of("--snapshot-entries", "200", "--snapshot-trailing", "20"));
    for (String id : cluster.ids()) {
      cluster.start(id);
    }
    cluster.awaitHealthy(120_000);

    Workload workload = new Workload(cluster, config.keySlots(), config.opsPerKey());
    if (config.staleReads()) {
      workload.useStaleReads();
      p.println("    clients read with ?consistency=stale: this run must find violations");
    }
    Random seeds = new Random(config.seed());
    Nemesis nemesis = new Nemesis(cluster, config.schedule(), new Random(seeds.nextLong()),
        workload::elapsed);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(config.seconds());
    List<Future<?>> clients = new ArrayList<>();
    for (int c = 0; c < config.clients(); c++) {
      int client = c;
      Random rnd = new Random(seeds.nextLong());
      clients.add(threads.submit(() -> workload.runClient(client, rnd, deadline)));
    }
    Future<?> faults = threads.submit(() -> {
      nemesis.run(deadline);
      return null;
    });
    faults.get(config.seconds() + 120L, TimeUnit.SECONDS);
    for (Future<?> c : clients) {
      c.get(60, TimeUnit.SECONDS);
    }
    double opsEnd = workload.elapsed();

    // Quiet and healed: read every key once more, then compare the replicas.
    List<String> problems = new ArrayList<>();
    try {
      cluster.healAll();
      cluster.awaitHealthy(120_000);
    } catch (IllegalStateException e) {
      problems.add("after healing: " + e.getMessage());
    }
    Random finalRnd = new Random(seeds.nextLong());
    Map<String, String> finalValues = new LinkedHashMap<>();
    List<String> unread = new ArrayList<>();
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(problems.isEmpty() ? 120 : 20);
    for (String key : workload.keys()) {
      Op read = null;
      do {
        String node = cluster.ids().get(finalRnd.nextInt(cluster.ids().size()));
        read = workload.read(-1, key, node);
        if (read.outcome() != Op.Outcome.OK) {
          Thread.sleep(200);
        }
      } while (read.outcome() != Op.Outcome.OK && System.nanoTime() < until);
      if (read.outcome() == Op.Outcome.OK) {
        finalValues.put(key, read.result());
      } else {
        unread.add(key);
      }
    }
    boolean replicasCompared = problems.isEmpty();
    List<String> divergent = replicasCompared ? compareReplicas(workload, finalValues)
        : List.of();
    List<String> halted = cluster.halted();
    if (!halted.isEmpty() && problems.isEmpty()) {
      problems.add("halted: " + halted);
    }

    List<Op> history = workload.history();
    long t0 = System.nanoTime();
    LinearizabilityChecker.Result check = new LinearizabilityChecker().check(history);
    long checkMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
    List<LostWrites.Lost> lost = LostWrites.find(history, finalValues);

    Path historyFile = dir.resolve("history.jsonl");
    try (var w = Files.newBufferedWriter(historyFile)) {
      for (Op op : history.stream().sorted(Comparator.comparingLong(Op::invokeNanos)).toList()) {
        w.write(op.toJson().encode());
        w.newLine();
      }
    }

    Map<Op.Outcome, Long> outcomes = LinearizabilityChecker.outcomes(history);
    p.println("--- faults (" + nemesis.total() + " injected: " + nemesis.counts() + ")");
    nemesis.timeline().forEach(line -> p.println("  " + line));
    p.printf("--- %d operations in %.1f s on %d keys: %d ok, %d failed, %d unknown%n",
        history.size(), opsEnd, workload.keys().size(), outcomes.get(Op.Outcome.OK),
        outcomes.get(Op.Outcome.FAILED), outcomes.get(Op.Outcome.UNKNOWN));
    for (Op.Kind kind : Op.Kind.values()) {
      List<Op> ofKind = history.stream().filter(o -> o.kind() == kind).toList();
      p.printf("    %-6s %5d: %5d ok, %5d failed, %5d unknown%n", kind.name().toLowerCase(),
          ofKind.size(), ofKind.stream().filter(o -> o.outcome() == Op.Outcome.OK).count(),
          ofKind.stream().filter(o -> o.outcome() == Op.Outcome.FAILED).count(),
          ofKind.stream().filter(o -> o.outcome() == Op.Outcome.UNKNOWN).count());
    }
    if (!workload.unexpected().isEmpty()) {
      p.println("    unexpected answers (counted unknown): " + workload.unexpected());
    }
    p.println("--- checker: " + check.summary() + " in " + checkMillis + " ms");
    for (LinearizabilityChecker.KeyResult k : check.keys()) {
      if (k.verdict() != Verdict.LINEARIZABLE) {
        p.println("  " + k.verdict() + " " + k.key() + ": " + k.explanation());
      }
    }
    p.println("--- lost acknowledged writes: " + lost.size());
    lost.stream().limit(20).forEach(l -> p.println("  " + l.op() + ": " + l.why()));
    p.println("--- replicas: " + (!replicasCompared ? "not compared (the cluster did not recover)"
        : divergent.isEmpty() ? "all agree with the final reads"
        : divergent.size() + " disagreements"));
    divergent.stream().limit(20).forEach(d -> p.println("  " + d));
    if (!unread.isEmpty()) {
      p.println("--- final read never succeeded for " + unread);
    }
    problems.forEach(pr -> p.println("--- PROBLEM " + pr));
    Report report = new Report(history, check, lost, divergent, unread, problems,
        nemesis.counts(), "", historyFile);
    p.println("--- verdict: " + (report.passed() ? "PASS" : "FAIL") + "; history: " + historyFile
        + (report.passed() ? "" : "; node logs: " + dir));
    p.flush();
    Files.writeString(dir.resolve("summary.txt"), out.toString());
    if (report.passed()) {
      deleteRecursively(dir.resolve("data"));
    }
    return new Report(history, check, lost, divergent, unread, problems, nemesis.counts(),
        out.toString(), historyFile);
  }

  /**
   * Waits until every node has applied the same log prefix, then reads every key locally on
   * every node.
   *
   * @return one line per key and node that disagrees with the final read
   */
  private List<String> compareReplicas(Workload workload, Map<String, String> finalValues)
      throws InterruptedException {
    List<String> out = new ArrayList<>();
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    String last = null;
    while (System.nanoTime() < until) {
      List<Long> applied = new ArrayList<>();
      long commit = -1;
      for (String id : cluster.ids()) {
        JsonObject s = cluster.status(id);
        applied.add(s == null ? -1 : s.getLong("lastApplied"));
        commit = Math.max(commit, s == null ? -1 : s.getLong("commitIndex"));
      }
      String now = applied.toString();
      if (applied.stream().distinct().count() == 1 && applied.get(0) == commit
          && now.equals(last)) {
        for (Map.Entry<String, String> e : finalValues.entrySet()) {
          for (String id : cluster.ids()) {
            String v = workload.localValue(e.getKey(), id);
            if (!java.util.Objects.equals(v, e.getValue())) {
              out.add(e.getKey() + " on " + id + ": " + v + ", final read: " + e.getValue());
            }
          }
        }
        return out;
      }
      last = now;
      Thread.sleep(500);
    }
    out.add("the nodes did not converge on one applied index within 60 s: " + last);
    return out;
  }

  /** Stops the clients and the nemesis, then every node (SIGCONT first if paused). */
  @Override
  public void close() {
    threads.shutdownNow();
    if (cluster != null) {
      cluster.close();
    }
  }

  private static void deleteRecursively(Path path) throws IOException {
    if (!Files.exists(path)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(path)) {
      for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
  }
}
