package dev.raftvertx.jepsen;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;

/**
 * The Jepsen-style suite: sample-app processes over the TCP bridge, concurrent clients, one fault
 * schedule per test, a linearizability check of the whole history. Each run prints its seed,
 * faults, operation counts and verdict; the history is left under
 * {@code sample-app/target/jepsen/<test>/history.jsonl}.
 *
 * <p>System properties: {@code jepsen.seconds} (how long each run drives the cluster, default
 * 40), {@code jepsen.seed} (replay the random choices of a run).
 */
class JepsenTest {

  static final int SECONDS = Integer.getInteger("jepsen.seconds", 40);

  JepsenRun run;

  @AfterEach
  void stopProcesses() {
    if (run != null) {
      run.close();
    }
  }

  JepsenRun.Report run(TestInfo info, int nodes, Nemesis.Schedule schedule) throws Exception {
    long seed = Long.getLong("jepsen.seed", ThreadLocalRandom.current().nextLong());
    String name = info.getTestMethod().orElseThrow().getName();
    int clients = nodes == 3 ? 6 : 8;
    run = new JepsenRun(new JepsenRun.Config(name, nodes, schedule, SECONDS, seed, clients, 4,
        400, false), Path.of("target", "jepsen"));
    JepsenRun.Report report = run.run();
    System.out.println(report.text());
    assertEquals(List.of(), report.problems(), "seed " + seed + ", logs in "
        + report.historyFile().getParent());
    assertEquals(LinearizabilityChecker.Verdict.LINEARIZABLE, report.check().verdict(),
        "linearizability violated; seed " + seed + ", history " + report.historyFile());
    assertEquals(0, report.lost().size(), "lost acknowledged writes; seed " + seed + ", history "
        + report.historyFile());
    assertEquals(0, report.divergent().size(), "replicas diverged: " + report.divergent());
    assertEquals(0, report.unreadKeys().size(), "keys unreadable after healing: "
        + report.unreadKeys());
    assertTrue(report.count(Op.Outcome.OK) >= 100, "too few acknowledged operations to mean"
        + " anything: " + report.count(Op.Outcome.OK));
    assertTrue(!report.faults().isEmpty(), "no fault was injected");
    return report;
  }

  @Test
  @Timeout(value = 20, unit = java.util.concurrent.TimeUnit.MINUTES)
  void kill3(TestInfo info) throws Exception {
    run(info, 3, Nemesis.Schedule.KILL);
  }

  @Test
  @Timeout(value = 20, unit = java.util.concurrent.TimeUnit.MINUTES)
  void pause3(TestInfo info) throws Exception {
    run(info, 3, Nemesis.Schedule.PAUSE);
  }

  @Test
  @Timeout(value = 20, unit = java.util.concurrent.TimeUnit.MINUTES)
  void partition3(TestInfo info) throws Exception {
    run(info, 3, Nemesis.Schedule.PARTITION);
  }

  @Test
  @Timeout(value = 20, unit = java.util.concurrent.TimeUnit.MINUTES)
  void messages3(TestInfo info) throws Exception {
    run(info, 3, Nemesis.Schedule.MESSAGES);
  }

  @Test
  @Timeout(value = 20, unit = java.util.concurrent.TimeUnit.MINUTES)
  void mixed3(TestInfo info) throws Exception {
    run(info, 3, Nemesis.Schedule.MIXED);
  }

  @Test
  @Timeout(value = 20, unit = java.util.concurrent.TimeUnit.MINUTES)
  void mixed5(TestInfo info) throws Exception {
    run(info, 5, Nemesis.Schedule.MIXED);
  }

  /**
   * The harness has teeth: with clients reading locally ({@code ?consistency=stale}), partitions
   * that isolate the leader and the lag of followers make reads stale, and the checker says so.
   */
  @Test
  @Timeout(value = 10, unit = java.util.concurrent.TimeUnit.MINUTES)
  void staleReadsAreCaught() throws Exception {
    long seed = Long.getLong("jepsen.seed", ThreadLocalRandom.current().nextLong());
    run = new JepsenRun(new JepsenRun.Config("staleReadsAreCaught", 3,
        Nemesis.Schedule.PARTITION, 20, seed, 6, 2, 400, true), Path.of("target", "jepsen"));
    JepsenRun.Report report = run.run();
    System.out.println(report.text());
    assertEquals(LinearizabilityChecker.Verdict.NOT_LINEARIZABLE, report.check().verdict(),
        "stale reads went unnoticed; seed " + seed);
  }
}
