package dev.raftvertx.jepsen;

import static dev.raftvertx.jepsen.LinearizabilityChecker.Verdict.LINEARIZABLE;
import static dev.raftvertx.jepsen.LinearizabilityChecker.Verdict.NOT_LINEARIZABLE;
import static dev.raftvertx.jepsen.LinearizabilityChecker.Verdict.UNKNOWN;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.raftvertx.jepsen.LinearizabilityChecker.Result;
import dev.raftvertx.jepsen.LinearizabilityChecker.Verdict;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The checker accepts linearizable histories (sequential, concurrent, with unknown operations
 * that did or did not take effect) and rejects those that are not: a stale read, a lost
 * acknowledged write, a compare-and-set applied twice, two compare-and-sets that both swapped the
 * same value, a failed write that was seen.
 */
class LinearizabilityCheckerTest {

  final LinearizabilityChecker checker = new LinearizabilityChecker();

  Verdict verdict(Op... ops) {
    return checker.check(List.of(ops)).verdict();
  }

  @Test
  void sequentialHistoryOfEveryKindIsLinearizable() {
    assertEquals(LINEARIZABLE, verdict(
        Op.read(1, 1, "k", null, 0, 1),
        Op.write(2, 1, "k", "a", 2, 3),
        Op.read(3, 1, "k", "a", 4, 5),
        Op.casOk(4, 1, "k", "a", "b", 6, 7),
        Op.casRefused(5, 1, "k", "a", "c", "b", 8, 9),
        Op.read(6, 1, "k", "b", 10, 11),
        Op.delete(7, 1, "k", 12, 13),
        Op.read(8, 1, "k", null, 14, 15),
        Op.casOk(9, 1, "k", null, "d", 16, 17),
        Op.read(10, 1, "k", "d", 18, 19)));
  }

  @Test
  void concurrentOperationsMayTakeEffectInEitherOrder() {
    // w(a) and w(b) overlap; reads during them may see b then a, and afterwards a.
    assertEquals(LINEARIZABLE, verdict(
        Op.write(1, 1, "k", "a", 0, 10),
        Op.write(2, 2, "k", "b", 1, 11),
        Op.read(3, 3, "k", "b", 2, 3),
        Op.read(4, 3, "k", "a", 4, 5),
        Op.read(5, 3, "k", "a", 12, 13)));
    // ... but once both completed and a read saw a, nothing may see b again.
    assertEquals(NOT_LINEARIZABLE, verdict(
        Op.write(1, 1, "k", "a", 0, 10),
        Op.write(2, 2, "k", "b", 1, 11),
        Op.read(3, 3, "k", "b", 2, 3),
        Op.read(4, 3, "k", "a", 4, 5),
        Op.read(5, 3, "k", "b", 12, 13)));
    // A read concurrent with a write may see the old or the new value.
    assertEquals(LINEARIZABLE, verdict(
        Op.write(1, 1, "k", "a", 0, 1),
        Op.write(2, 1, "k", "b", 2, 10),
        Op.read(3, 2, "k", "a", 3, 4),
        Op.read(4, 2, "k", "b", 5, 6),
        Op.read(5, 3, "k", "b", 7, 12)));
  }

  @Test
  void keysAreCheckedSeparately() {
    Result r = checker.check(List.of(
        Op.write(1, 1, "x", "a", 0, 1),
        Op.write(2, 1, "y", "b", 2, 3),
        Op.read(3, 2, "x", "a", 4, 5),
        Op.read(4, 2, "y", null, 6, 7)));
    assertEquals(NOT_LINEARIZABLE, r.verdict());
    assertEquals(List.of("y"), r.violations().stream().map(k -> k.key()).toList());
  }

  @Test
  void unknownWriteThatTookEffect() {
    assertEquals(LINEARIZABLE, verdict(
        Op.write(1, 1, "k", "a", 0, 1),
        Op.writeUnknown(2, 2, "k", "b", 2),
        Op.read(3, 3, "k", "a", 3, 4),
        Op.read(4, 3, "k", "b", 100, 101),
        Op.read(5, 3, "k", "b", 200, 201)));
  }

  @Test
  void unknownWriteThatNeverTookEffect() {
    assertEquals(LINEARIZABLE, verdict(
        Op.write(1, 1, "k", "a", 0, 1),
        Op.writeUnknown(2, 2, "k", "b", 2),
        Op.read(3, 3, "k", "a", 3, 4),
        Op.read(4, 3, "k", "a", 100, 101)));
  }

  @Test
  void unknownWriteCannotTakeEffectTwice() {
    assertEquals(NOT_LINEARIZABLE, verdict(
        Op.write(1, 1, "k", "a", 0, 1),
        Op.writeUnknown(2, 2, "k", "b", 2),
        Op.read(3, 3, "k", "b", 3, 4),
        Op.read(4, 3, "k", "a", 5, 6),
        Op.read(5, 3, "k", "b", 7, 8)));
  }

  @Test
  void unknownWriteCannotTakeEffectBeforeItWasSent() {
    assertEquals(NOT_LINEARIZABLE, verdict(
        Op.read(1, 3, "k", "b", 0, 1),
        Op.writeUnknown(2, 2, "k", "b", 2)));
  }

  @Test
  void unknownCompareAndSetMayOrMayNotHaveSwapped() {
    assertEquals(LINEARIZABLE, verdict(
        Op.write(1, 1, "k", "a", 0, 1),
        Op.casUnknown(2, 2, "k", "a", "b", 2),
        Op.read(3, 3, "k", "a", 3, 4),
        Op.read(4, 3, "k", "b", 5, 6)));
    assertEquals(LINEARIZABLE, verdict(
        Op.write(1, 1, "k", "a", 0, 1),
        Op.casUnknown(2, 2, "k", "a", "b", 2),
        Op.read(3, 3, "k", "a", 3, 4),
        Op.write(4, 1, "k", "c", 5, 6),
        Op.read(5, 3, "k", "c", 7, 8)));
    // It can only swap when the expected value is current.
    assertEquals(NOT_LINEARIZABLE, verdict(
        Op.write(1, 1, "k", "x", 0, 1),
        Op.casUnknown(2, 2, "k", "a", "b", 2),
        Op.read(3, 3, "k", "b", 3, 4)));
  }

  @Test
  void failedWriteMustNotBeSeen() {
    assertEquals(NOT_LINEARIZABLE, verdict(
        Op.write(1, 1, "k", "a", 0, 1),
        Op.writeFailed(2, 2, "k", "b", 2, 3),
        Op.read(3, 3, "k", "b", 4, 5)));
    assertEquals(LINEARIZABLE, verdict(
        Op.write(1, 1, "k", "a", 0, 1),
        Op.writeFailed(2, 2, "k", "b", 2, 3),
        Op.read(3, 3, "k", "a", 4, 5)));
  }

  @Test
  void staleReadIsRejected() {
    LinearizabilityChecker.KeyResult r = checker.check(List.of(
        Op.write(1, 1, "k", "a", 0, 1),
        Op.write(2, 1, "k", "b", 2, 3),
        Op.read(3, 2, "k", "a", 4, 5))).keys().get(0);
    assertEquals(NOT_LINEARIZABLE, r.verdict());
    assertTrue(r.explanation().contains("#3"), r.explanation());
  }

  @Test
  void lostAcknowledgedWriteIsRejected() {
    List<Op> h = List.of(
        Op.write(1, 1, "k", "a", 0, 1),
        Op.write(2, 2, "k", "b", 2, 3),
        Op.read(3, 3, "k", "a", 10, 11));
    assertEquals(NOT_LINEARIZABLE, checker.check(h).verdict());
    List<LostWrites.Lost> lost = LostWrites.find(h, Map.of("k", "a"));
    assertEquals(1, lost.size());
    assertEquals(2, lost.get(0).op().id());
    // a write acknowledged and then absent
    List<Op> gone = List.of(Op.write(1, 1, "k", "a", 0, 1), Op.read(2, 1, "k", null, 2, 3));
    assertEquals(NOT_LINEARIZABLE, checker.check(gone).verdict());
    assertEquals(1, LostWrites.find(gone, Map.of("k", "<absent>")).size());
  }

  @Test
  void lostWritesAcceptsOverwritesByConcurrentAndUnknownWrites() {
    List<Op> h = List.of(
        Op.write(1, 1, "k", "a", 0, 10),
        Op.write(2, 2, "k", "b", 1, 11),
        Op.writeUnknown(3, 3, "k", "c", 12),
        Op.delete(4, 1, "k", 13, 14));
    Map<String, String> absent = new HashMap<>();
    absent.put("k", null);
    assertEquals(List.of(), LostWrites.find(h, absent));
    List<Op> h2 = h.subList(0, 3);
    assertEquals(List.of(), LostWrites.find(h2, Map.of("k", "a")));
    assertEquals(List.of(), LostWrites.find(h2, Map.of("k", "c")));
    assertEquals(2, LostWrites.find(h2, Map.of("k", "z")).size(), "nobody wrote z");
  }

  @Test
  void compareAndSetAppliedTwiceIsRejected() {
    // a -> b swapped once; a written again; a second application would make it b again.
    assertEquals(NOT_LINEARIZABLE, verdict(
        Op.write(1, 1, "k", "a", 0, 1),
        Op.casOk(2, 1, "k", "a", "b", 2, 3),
        Op.write(3, 1, "k", "a", 4, 5),
        Op.read(4, 2, "k", "b", 6, 7)));
    // Two compare-and-sets from the same value cannot both swap, even concurrently.
    assertEquals(NOT_LINEARIZABLE, verdict(
        Op.write(1, 1, "k", "a", 0, 1),
        Op.casOk(2, 1, "k", "a", "b", 2, 10),
        Op.casOk(3, 2, "k", "a", "c", 3, 9)));
    // One swaps, the other is refused seeing the first one's value: fine.
    assertEquals(LINEARIZABLE, verdict(
        Op.write(1, 1, "k", "a", 0, 1),
        Op.casOk(2, 1, "k", "a", "b", 2, 10),
        Op.casRefused(3, 2, "k", "a", "c", "b", 3, 9)));
    // A refusal that saw the expected value is wrong.
    assertEquals(NOT_LINEARIZABLE, verdict(
        Op.write(1, 1, "k", "a", 0, 1),
        Op.casRefused(2, 2, "k", "a", "c", "a", 3, 9)));
  }

  @Test
  void searchGivesUpWithinItsBudget() {
    List<Op> h = new ArrayList<>();
    for (int i = 0; i < 14; i++) {
      h.add(Op.write(i, i, "k", "v" + i, 0, 100));
    }
    h.add(Op.read(99, 99, "k", "v0", 101, 102)); // forces trying every order before v0 last
    h.add(Op.read(100, 99, "k", "v1", 103, 104));
    assertEquals(UNKNOWN, new LinearizabilityChecker(1000).check(h).verdict());
  }

  /**
   * Random histories made by a real register with random concurrency, failures and unknown
   * outcomes (2,400 operations on one key) are accepted quickly.
   */
  @Test
  void randomLinearizableHistoriesAreAccepted() {
    for (long seed = 1; seed <= 20; seed++) {
      List<Op> h = randomHistory(new Random(seed), 6, 400);
      Result ok = checker.check(h);
      assertEquals(LINEARIZABLE, ok.verdict(), "seed " + seed + ": " + ok.summary());
    }
  }

  /**
   * Changing one read of a random linearizable history to a value that was overwritten before the
   * read started is rejected. Proving a violation means exhausting the search up to it, so these
   * histories are sized as the harness sizes its keys (a few hundred operations).
   */
  @Test
  void corruptedRandomHistoriesAreRejected() {
    int rejected = 0;
    for (long seed = 1; seed <= 100; seed++) {
      List<Op> bad = corruptOneRead(new Random(seed), randomHistory(new Random(seed), 5, 60));
      if (bad != null) {
        Result r = checker.check(bad);
        assertEquals(NOT_LINEARIZABLE, r.verdict(), "seed " + seed + ": " + r.summary());
        rejected++;
      }
    }
    assertTrue(rejected >= 50, "only " + rejected + " histories could be corrupted");
  }

  /**
   * Simulates clients on one register: each operation takes effect at a random instant inside
   * its interval (an unknown one possibly never); results come from that order.
   */
  static List<Op> randomHistory(Random rnd, int clients, int opsPerClient) {
    record Pending(int client, Op.Kind kind, String value, String expect, long invoke,
        long at, long complete, Op.Outcome outcome) {
    }
    List<Pending> pending = new ArrayList<>();
    int unique = 0;
    for (int c = 0; c < clients; c++) {
      long t = rnd.nextInt(10);
      for (int i = 0; i < opsPerClient; i++) {
        long invoke = t + 1 + rnd.nextInt(5);
        long complete = invoke + 1 + rnd.nextInt(30);
        long at = invoke + rnd.nextInt((int) (complete - invoke) + 1);
        Op.Kind kind = Op.Kind.values()[rnd.nextInt(4)];
        int r = rnd.nextInt(20);
        Op.Outcome outcome = r == 0 ? Op.Outcome.FAILED : r == 1 ? Op.Outcome.UNKNOWN
            : Op.Outcome.OK;
        if (outcome == Op.Outcome.UNKNOWN && rnd.nextBoolean()) {
          at = invoke + rnd.nextInt(500); // may take effect much later
        } else if (outcome == Op.Outcome.UNKNOWN && rnd.nextBoolean()) {
          at = Long.MAX_VALUE; // never
        }
        if (outcome == Op.Outcome.FAILED) {
          at = Long.MAX_VALUE;
        }
        String expect = "v" + rnd.nextInt(unique + 1);
        pending.add(new Pending(c, kind, "v" + (++unique), rnd.nextInt(4) == 0 ? null : expect,
            invoke, at, complete, outcome));
        t = complete;
      }
    }
    List<Pending> byEffect = new ArrayList<>(pending);
    byEffect.sort(Comparator.comparingLong(Pending::at));
    Map<Pending, Op> done = new HashMap<>();
    String state = null;
    int id = 0;
    for (Pending p : byEffect) {
      boolean happens = p.at() != Long.MAX_VALUE;
      long complete = p.outcome() == Op.Outcome.UNKNOWN ? Op.NEVER : p.complete();
      Op op;
      switch (p.kind()) {
        case READ -> op = new Op(++id, p.client(), "k", p.kind(), null, null, p.outcome(), null,
            happens ? state : null, p.invoke(), complete, null, null);
        case WRITE -> {
          if (happens) {
            state = p.value();
          }
          op = new Op(++id, p.client(), "k", p.kind(), p.value(), null, p.outcome(), null, null,
              p.invoke(), complete, null, null);
        }
        case DELETE -> {
          if (happens) {
            state = null;
          }
          op = new Op(++id, p.client(), "k", p.kind(), null, null, p.outcome(), null, null,
              p.invoke(), complete, null, null);
        }
        default -> {
          boolean swap = happens && java.util.Objects.equals(state, p.expect());
          String before = state;
          if (swap) {
            state = p.value();
          }
          boolean definite = p.outcome() == Op.Outcome.OK;
          op = new Op(++id, p.client(), "k", p.kind(), p.value(), p.expect(), p.outcome(),
              definite ? swap : null, definite && !swap ? before : null, p.invoke(), complete,
              null, null);
        }
      }
      done.put(p, op);
    }
    return pending.stream().map(done::get).toList();
  }

  /** Makes one acknowledged read return the value of a write that was overwritten before. */
  static List<Op> corruptOneRead(Random rnd, List<Op> h) {
    List<Op> sorted = new ArrayList<>(h);
    sorted.sort(Comparator.comparingLong(Op::invokeNanos));
    for (int attempt = 0; attempt < 200; attempt++) {
      Op read = sorted.get(rnd.nextInt(sorted.size()));
      if (read.kind() != Op.Kind.READ || read.outcome() != Op.Outcome.OK) {
        continue;
      }
      // two acknowledged writes, both complete before the read starts, the second after the
      // first completed: the first one's value is stale for the read.
      for (Op w1 : sorted) {
        if (w1.kind() != Op.Kind.WRITE || w1.outcome() != Op.Outcome.OK
            || w1.completeNanos() >= read.invokeNanos()) {
          continue;
        }
        boolean overwritten = sorted.stream().anyMatch(w2 -> w2.kind() == Op.Kind.WRITE
            && w2.outcome() == Op.Outcome.OK && w2.invokeNanos() > w1.completeNanos()
            && w2.completeNanos() < read.invokeNanos());
        if (overwritten && !w1.value().equals(read.result())) {
          List<Op> out = new ArrayList<>(h);
          out.set(out.indexOf(read), new Op(read.id(), read.client(), read.key(), read.kind(),
              null, null, Op.Outcome.OK, null, w1.value(), read.invokeNanos(),
              read.completeNanos(), null, null));
          return out;
        }
      }
    }
    return null;
  }

  @Test
  void historyLinesRoundTrip() {
    for (Op op : randomHistory(new Random(7), 3, 50)) {
      assertEquals(op, Op.fromJson(new io.vertx.core.json.JsonObject(op.toJson().encode())));
    }
  }
}
