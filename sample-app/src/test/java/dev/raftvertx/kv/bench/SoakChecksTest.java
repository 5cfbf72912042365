package dev.raftvertx.kv.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.raftvertx.kv.bench.Soak.Figure;
import dev.raftvertx.kv.bench.Soak.Sample;
import dev.raftvertx.kv.bench.Soak.Verdict;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The soak's judgements on their own, so that its checks are known to have teeth: a value older
 * than an acknowledged write is a lost write unless its own write's outcome is unknown; a
 * refused or never-sent value is a phantom; a figure that keeps growing is unbounded while a
 * sawtooth (segments created and deleted) is not; a segment or snapshot file that compaction
 * should have deleted is found.
 */
class SoakChecksTest {

  @TempDir
  Path dir;

  @Test
  void judgesReplicaValues() {
    // value, highest acknowledged, highest sent, value's write refused, value's write unknown
    assertEquals(Verdict.OK, Soak.judge(7, 7, 7, false, false));
    assertEquals(Verdict.OK, Soak.judge(8, 7, 8, false, true)); // a later unknown write applied
    assertEquals(Verdict.OK, Soak.judge(0, 0, 3, false, false)); // nothing acknowledged, absent
    assertEquals(Verdict.LOST, Soak.judge(6, 7, 8, false, false));
    assertEquals(Verdict.LOST, Soak.judge(0, 7, 7, false, false)); // absent
    assertEquals(Verdict.LATE, Soak.judge(6, 7, 8, false, true)); // unknown outcome, older
    assertEquals(Verdict.PHANTOM, Soak.judge(9, 7, 8, false, false)); // never sent
    assertEquals(Verdict.PHANTOM, Soak.judge(8, 7, 8, true, false)); // refused, yet applied
    assertEquals(Verdict.PHANTOM, Soak.judge(-1, 7, 8, false, false)); // not a counter
    assertEquals(-1, SoakLoad.counterOf("garbage"));
    assertEquals(-1, SoakLoad.counterOf("0|xx"));
    assertEquals(42, SoakLoad.counterOf("42|xxxx"));
  }

  private static Sample disk(double t, long bytes) {
    return new Sample(t, "n1", 1, "leader", 1, 1, 1, 1, 1, 1, 1, 50, 60, bytes, 1, 1, null);
  }

  @Test
  void aGrowingFigureIsUnboundedAndASawtoothIsNot() {
    double duration = 90;
    List<Sample> growing = new ArrayList<>();
    List<Sample> sawtooth = new ArrayList<>();
    for (int t = 0; t <= 90; t += 5) {
      growing.add(disk(t, 1_000_000L + t * 500_000L)); // segments never deleted
      sawtooth.add(disk(t, 1_000_000L + (t % 15) * 100_000L));
    }
    Figure g = Soak.figure(growing, duration, "disk_bytes", "n1", Sample::disk);
    assertEquals(1_000_000L, g.first());
    assertEquals(1_000_000L + 25 * 500_000L, g.earlyMax()); // t=25 is the last below 30
    assertEquals(1_000_000L + 90 * 500_000L, g.lateMax());
    assertFalse(Soak.bounded("disk", List.of(g), "disk_bytes", 2, 8L << 20).ok());
    Figure s = Soak.figure(sawtooth, duration, "disk_bytes", "n1", Sample::disk);
    assertTrue(Soak.bounded("disk", List.of(s), "disk_bytes", 2, 8L << 20).ok());
    // a node never sampled in a third is not taken as bounded
    Figure none = Soak.figure(sawtooth.subList(0, 3), duration, "disk_bytes", "n1",
        Sample::disk);
    assertFalse(Soak.bounded("disk", List.of(none), "disk_bytes", 2, 8L << 20).ok());
    // nor is a figure that was never sampled at all
    assertFalse(Soak.bounded("fds", List.of(s), "fds", 1, 48).ok());
  }

  private void touch(String name) throws Exception {
    Path p = dir.resolve(name);
    Files.createDirectories(p.getParent());
    Files.write(p, new byte[10]);
  }

  @Test
  void findsWhatCompactionShouldHaveDeleted() throws Exception {
    touch("log-00000000000000000001.seg");
    touch("log-00000000000000005000.seg");
    touch("log-00000000000000010000.seg");
    touch("snapshots/snapshot-00000000000000006000-00000000000000000002.snap");
    touch("state");
    // snapshot 6000 less 1024 trailing entries covers up to 4976: segment 1..4999 must stay
    assertEquals(null, Soak.leftOver(dir, 6000, 1024));
    // snapshot 12000 less 1024 covers up to 10976: segments 1..4999 and 5000..9999 must go
    String left = Soak.leftOver(dir, 12000, 1024);
    assertTrue(left != null && left.contains("segment 1..4999")
        && left.contains("segment 5000..9999") && !left.contains("10000.."), left);
    // an older snapshot file left behind
    touch("snapshots/snapshot-00000000000000003000-00000000000000000001.snap");
    left = Soak.leftOver(dir, 6000, 1024);
    assertTrue(left != null && left.contains("2 snapshot files"), left);
  }
}
