package dev.raftvertx.kv.bench;

import dev.raftvertx.client.KvClient;
import dev.raftvertx.client.KvClientOptions;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code sample-app bench failover}: the Raft paper's Figure 16 experiment. A cluster of node
 * processes (5 by default) runs at the product's default timeouts; repeatedly the leader's process
 * is killed with SIGKILL and the survivors are polled every few milliseconds until one of them
 * leads in a higher term; the killed node is then restarted on its data and the next trial waits
 * until every node follows a leader again. Prints each trial, min/median/p90/max and a
 * {@code RESULT} line.
 */
@Command(name = "failover", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Time to elect a new leader after the leader's process is killed (kill -9),"
        + " over many trials (the Raft paper's Figure 16).")
public final class BenchFailover extends BenchBase implements Callable<Integer> {

  @Option(names = "--nodes", defaultValue = "5", description = "cluster size;"
      + " default ${DEFAULT-VALUE}")
  int nodes;

  @Option(names = "--trials", defaultValue = "25", description = "leader kills;"
      + " default ${DEFAULT-VALUE}")
  int trials;

  @Option(names = "--poll-ms", defaultValue = "5", description = "status poll interval;"
      + " default ${DEFAULT-VALUE}")
  long pollMillis;

  @Option(names = "--settle-ms", defaultValue = "1000", description = "pause after the cluster is"
      + " whole again before the next kill (plus up to half of it at random);"
      + " default ${DEFAULT-VALUE}")
  long settleMillis;

  private KvClient client;

  private record Status(String id, String role, long term, String leaderId) {
  }

  @Override
  public Integer call() throws Exception {
    prepare("raft-vertx-failover-");
    try {
      cluster = new LocalCluster(work, nodes, jvmOptions(), nodeArgs).kvToken(kvToken());
      cluster.startAll();
      System.out.println("INFO nodes " + cluster.ids() + " pids " + cluster.pids()
          + " node args " + nodeArgs);
      vertx = Vertx.vertx();
      client = KvClient.create(vertx, new KvClientOptions().setEndpoints(cluster.httpEndpoints())
          .setToken(kvToken())
          .setConnections(1).setRequestTimeoutMillis(1000));
      Random random = new Random();
      List<Long> times = new ArrayList<>();
      int failed = 0;
      for (int trial = 1; trial <= trials; trial++) {
        Status leader = awaitWhole(90_000);
        Thread.sleep(settleMillis + random.nextInt((int) Math.max(1, settleMillis / 2)));
        leader = awaitWhole(30_000); // may have changed meanwhile
        List<String> survivors = new ArrayList<>(cluster.ids());
        survivors.remove(leader.id());
        long t0 = System.nanoTime();
        cluster.kill(leader.id());
        Status next = awaitNewLeader(survivors, leader.term(), 30_000);
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        if (next == null) {
          failed++;
          System.out.println("INFO trial " + trial + ": killed leader " + leader.id()
              + " (term " + leader.term() + "); no new leader within 30 s");
        } else {
          times.add(ms);
          System.out.println("INFO trial " + trial + ": killed leader " + leader.id() + " (term "
              + leader.term() + "); " + next.id() + " leads in term " + next.term() + " after "
              + ms + " ms");
        }
        cluster.start(leader.id());
      }
      long[] t = times.stream().mapToLong(Long::longValue).sorted().toArray();
      String line = String.format(Locale.ROOT, "RESULT system=raft-vertx bench=failover nodes=%d"
          + " trials=%d elected=%d min_ms=%d p50_ms=%d p90_ms=%d max_ms=%d loadavg1=%s",
          nodes, trials, t.length, pct(t, 0), pct(t, 50), pct(t, 90), pct(t, 100),
          CpuProbe.loadAverage1());
      System.out.println(line);
      System.out.println("INFO election times (ms, sorted): " + Arrays.toString(t));
      return failed == 0 ? 0 : 1;
    } catch (Exception e) {
      System.err.println("bench failover failed: " + e);
      printNodeLogs();
      return 1;
    } finally {
      cleanUp();
    }
  }

  /** Nearest-rank percentile of sorted values; 0 when there are none. */
  static long pct(long[] sorted, double p) {
    if (sorted.length == 0) {
      return 0;
    }
    int rank = (int) Math.ceil(p / 100.0 * sorted.length);
    return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
  }

  private List<Status> statuses(List<String> ids) {
    List<Future<JsonObject>> answers = new ArrayList<>();
    for (String id : ids) {
      answers.add(client.status(cluster.node(id).http()).otherwise((JsonObject) null));
    }
    try {
      Future.all(answers).await(2, TimeUnit.SECONDS);
    } catch (Exception ignored) {
      // use what came
    }
    List<Status> out = new ArrayList<>();
    for (Future<JsonObject> f : answers) {
      JsonObject s = f.isComplete() ? f.result() : null;
      if (s != null) {
        out.add(new Status(s.getString("id"), s.getString("role"), s.getLong("term", 0L),
            s.getString("leaderId")));
      }
    }
    return out;
  }

  /** Waits until every node answers and follows one leader in one term; returns the leader. */
  private Status awaitWhole(long timeoutMillis) throws InterruptedException {
    long deadline = System.currentTimeMillis() + timeoutMillis;
    while (System.currentTimeMillis() < deadline) {
      List<Status> all = statuses(cluster.ids());
      Status leader = all.stream().filter(s -> "leader".equals(s.role())).findFirst()
          .orElse(null);
      if (all.size() == cluster.ids().size() && leader != null && all.stream().allMatch(
          s -> s.term() == leader.term() && leader.id().equals(s.leaderId()))) {
        return leader;
      }
      Thread.sleep(20);
    }
    throw new IllegalStateException("the cluster did not settle on one leader in "
        + timeoutMillis + " ms");
  }

  /**
   * Polls the survivors until one leads in a term above {@code oldTerm}, or null at timeout. Each
   * survivor is polled on its own every {@link #pollMillis}, so that one slow status answer does
   * not hide another survivor's (waiting for all answers of a round once added 2 s to a trial
   * whose election took 150 ms, by the nodes' logs).
   */
  private Status awaitNewLeader(List<String> survivors, long oldTerm, long timeoutMillis)
      throws InterruptedException {
    long deadline = System.currentTimeMillis() + timeoutMillis;
    Promise<Status> found = Promise.promise();
    for (String id : survivors) {
      vertx.runOnContext(v -> poll(id, oldTerm, deadline, found));
    }
    try {
      return found.future().await(timeoutMillis + 1000, TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.TimeoutException | RuntimeException e) {
      return null; // no survivor led in a newer term in time
    } finally {
      found.tryFail(new IllegalStateException("stopped")); // ends the polling loops
    }
  }

  private void poll(String id, long oldTerm, long deadline, Promise<Status> found) {
    if (found.future().isComplete()) {
      return;
    }
    if (System.currentTimeMillis() > deadline) {
      found.tryFail(new IllegalStateException("no new leader in time"));
      return;
    }
    client.status(cluster.node(id).http()).onComplete(ar -> {
      JsonObject s = ar.succeeded() ? ar.result() : null;
      if (s != null && "leader".equals(s.getString("role")) && s.getLong("term", 0L) > oldTerm) {
        found.tryComplete(new Status(s.getString("id"), s.getString("role"),
            s.getLong("term", 0L), s.getString("leaderId")));
      } else {
        vertx.setTimer(Math.max(1, pollMillis), t -> poll(id, oldTerm, deadline, found));
      }
    });
  }

}
