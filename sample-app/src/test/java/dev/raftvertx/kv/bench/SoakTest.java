package dev.raftvertx.kv.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.SecureRandom;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The short soak CI runs: {@code sample-app soak} for 75 s (three node processes, 16 writers,
 * a snapshot every 500 entries, 256 KiB log segments, the leader killed with SIGKILL about every
 * 20 s: three kills), then its checks: no acknowledged write lost on any node, replicas agree,
 * every node took snapshots and, at the end, holds one snapshot file and no segment its snapshot
 * covers, progress throughout, disk bytes, log segments, snapshot files, log
 * length, open files, threads and live heap bounded (last third against first third, with
 * generous margins), no node died or halted.
 * The figures are printed. Nothing here depends on speed: only outcomes are asserted.
 *
 * <p>{@code -Dsoak.seed=N} replays the random choices of a run (its seed is printed);
 * {@code -Dsoak.seconds=N} runs longer.
 */
class SoakTest {

  @TempDir
  Path work;

  @Test
  void shortSoakLosesNoAcknowledgedWriteAndStaysBounded() throws Exception {
    long seed = Long.getLong("soak.seed", new SecureRandom().nextLong());
    String seconds = System.getProperty("soak.seconds", "75");
    System.out.println("SoakTest seed " + seed + " (-Dsoak.seed=" + seed + " replays its random"
        + " choices)");
    Soak soak = new Soak();
    // Snapshots every 500 entries and 256 KiB segments: even on a machine so busy that writes
    // crawl, every node snapshots and deletes covered segments several times in 75 s.
    int code = new CommandLine(soak).execute("--duration", seconds, "--kill-every", "20",
        "--seed", String.valueOf(seed), "--work-dir", work.toString(),
        "--snapshot-entries", "500", "--snapshot-trailing", "256", "--segment-bytes", "262144",
        "--node-jvm-opts", "-Xms256m -Xmx256m -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError");
    Soak.Report r = soak.report();
    try {
      assertNotNull(r, "the soak stopped before its checks (exit code " + code + "); seed "
          + seed);
      String failed = r.checks().stream().filter(c -> !c.ok())
          .map(c -> c.name() + ": " + c.detail()).collect(Collectors.joining("\n"));
      assertEquals("", failed, "failed checks, seed " + seed);
      assertEquals(0, r.lost(), "acknowledged writes lost");
      assertEquals(0, r.phantom(), "values never written, or refused, were read back");
      assertEquals(0, r.diverged(), "replicas disagree");
      assertTrue(r.acked() > 0, "no write was acknowledged");
      assertTrue(r.leaderKills() >= 2, "the leader was killed " + r.leaderKills() + " times");
      assertEquals(3, r.snapshotIndex().size());
      r.snapshotIndex().forEach((node, index) ->
          assertTrue(index > 0, node + " took no snapshot: " + r.snapshotIndex()));
      for (String check : List.of("no_acknowledged_write_lost", "no_phantom_or_refused_write",
          "replicas_agree", "converged", "compaction_done", "progress", "no_node_died_or_halted",
          "sampling_worked", "snapshots_on_every_node", "disk_bounded", "log_segments_bounded",
          "snapshot_files_bounded", "log_entries_bounded", "fds_bounded", "threads_bounded",
          "live_heap_bounded")) {
        assertNotNull(r.check(check), "check " + check + " missing");
        assertTrue(r.check(check).ok(), check + ": " + r.check(check).detail());
      }
      assertEquals(0, code, "exit code");
    } finally {
      keepLogsOnFailure(soak, r);
    }
    // everything stopped and removed
    try (Stream<Path> left = Files.list(work)) {
      assertEquals(List.of(), left.toList(), "work directory left behind");
    }
    assertFalse(ProcessHandle.current().descendants().anyMatch(p -> p.info().commandLine()
        .map(c -> c.contains("raft-bench")).orElse(false)), "a node process still runs");
  }

  /** A failed run keeps its work directory: copy the node and GC logs where CI keeps them. */
  private static void keepLogsOnFailure(Soak soak, Soak.Report r) throws IOException {
    if (r != null && r.passed()) {
      return;
    }
    Path from = soak.workDirectory();
    if (from == null || !Files.isDirectory(from)) {
      return;
    }
    Path to = Path.of("target", "soak");
    Files.createDirectories(to);
    try (Stream<Path> logs = Files.list(from)) {
      for (Path log : logs.filter(p -> p.toString().endsWith(".log")).toList()) {
        Files.copy(log, to.resolve(log.getFileName()), StandardCopyOption.REPLACE_EXISTING);
      }
    }
    System.out.println("SoakTest: node and GC logs copied to " + to.toAbsolutePath());
  }
}
