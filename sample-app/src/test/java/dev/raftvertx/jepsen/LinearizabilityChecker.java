package dev.raftvertx.jepsen;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;

/**
 * Decides whether a history of operations on keys is linearizable with respect to a register per
 * key (read, write, compare-and-set, delete = write of "absent").
 *
 * <p>The search is Wing &amp; Gong's with Lowe's just-in-time linearization and memoization, the
 * algorithm Porcupine and Knossos use: call and return events sit in one time-ordered list; at a
 * call the search tries to linearize that operation now (the model must accept it in the current
 * state), at the return of an operation not yet linearized it backtracks. A configuration already
 * explored, (set of linearized operations, register value), is never explored again: the set is a
 * bitset kept short by storing the run of all-ones words at its start as a count.
 *
 * <p>P-compositionality: a history is linearizable iff its restriction to each key is, so each key
 * is checked on its own.
 *
 * <p>Outcomes: an operation that failed certainly did not happen and is dropped; so is a read that
 * did not return. An operation whose outcome is unknown may take effect at any time after its
 * invocation or never: it has a call and no return, so the search may linearize it anywhere after
 * its call and the history is accepted once every operation that returned is linearized (the
 * unknown ones left over are the ones that never happened). An unknown write or compare-and-set
 * whose value nobody ever observed (no read returned it, no compare-and-set expected it or saw it
 * current) is dropped before the search: if the history has a linearization in which it took
 * effect, the same linearization without it (and without the unknown compare-and-sets that
 * happened as no-ops while its value was current) is valid too, since every operation that could
 * tell the difference would have to observe its value. Conversely, with unique values, an
 * unknown write or compare-and-set whose value an acknowledged operation did observe must have
 * taken effect before the first such observer returned: that instant becomes its return time, so
 * it does not stay pending, and multiplying the configurations, for the rest of the history.
 *
 * <p>The search is bounded by a number of explored configurations per key; beyond it the verdict
 * is {@link Verdict#UNKNOWN} rather than a hang.
 */
public final class LinearizabilityChecker {

  /** The answer for a history or a key. */
  public enum Verdict { LINEARIZABLE, NOT_LINEARIZABLE, UNKNOWN }

  /**
   * The answer for one key.
   *
   * @param key the key
   * @param verdict linearizable, not, or unknown (search budget exhausted)
   * @param checked operations searched (after dropping failed ones and unobserved unknown ones)
   * @param droppedUnknown unknown operations dropped because nobody observed their value
   * @param explored configurations explored
   * @param explanation for a violation, where the search got stuck; otherwise empty
   */
  public record KeyResult(String key, Verdict verdict, int checked, int droppedUnknown,
      long explored, String explanation) {
  }

  /**
   * The answer for a history.
   *
   * @param verdict LINEARIZABLE if every key is; NOT_LINEARIZABLE if any key is not; else UNKNOWN
   * @param keys the answer for each key
   */
  public record Result(Verdict verdict, List<KeyResult> keys) {

    /** @return the keys that are not linearizable */
    public List<KeyResult> violations() {
      return keys.stream().filter(k -> k.verdict() == Verdict.NOT_LINEARIZABLE).toList();
    }

    /** @return a one-line summary */
    public String summary() {
      long explored = keys.stream().mapToLong(KeyResult::explored).sum();
      long dropped = keys.stream().mapToLong(KeyResult::droppedUnknown).sum();
      return verdict + " (" + keys.size() + " keys, " + explored + " configurations explored, "
          + dropped + " unobserved unknown operations dropped"
          + (violations().isEmpty() ? "" : ", violations on " + violations().stream()
              .map(KeyResult::key).toList()) + ")";
    }
  }

  /** Default bound on explored configurations per key. */
  public static final long DEFAULT_MAX_CONFIGURATIONS = 2_000_000;

  private final long maxConfigurations;

  /** A checker with the default bound. */
  public LinearizabilityChecker() {
    this(DEFAULT_MAX_CONFIGURATIONS);
  }

  /**
   * @param maxConfigurations configurations explored per key before giving up with UNKNOWN
   */
  public LinearizabilityChecker(long maxConfigurations) {
    if (maxConfigurations < 1) {
      throw new IllegalArgumentException("maxConfigurations must be positive");
    }
    this.maxConfigurations = maxConfigurations;
  }

  /**
   * @param history operations on any keys, in any order
   * @return the verdict for the history and for each key
   */
  public Result check(List<Op> history) {
    Map<String, List<Op>> byKey = new TreeMap<>();
    for (Op op : history) {
      byKey.computeIfAbsent(op.key(), k -> new ArrayList<>()).add(op);
    }
    List<KeyResult> results = new ArrayList<>();
    for (Map.Entry<String, List<Op>> e : byKey.entrySet()) {
      results.add(checkKey(e.getKey(), e.getValue()));
    }
    Verdict v = Verdict.LINEARIZABLE;
    for (KeyResult r : results) {
      if (r.verdict() == Verdict.NOT_LINEARIZABLE) {
        v = Verdict.NOT_LINEARIZABLE;
        break;
      }
      if (r.verdict() == Verdict.UNKNOWN) {
        v = Verdict.UNKNOWN;
      }
    }
    return new Result(v, results);
  }

  // ---------------------------------------------------------------------------------------------
  // The register model
  // ---------------------------------------------------------------------------------------------

  /** Returned by {@link #step} when the model refuses an operation; compared by identity. */
  private static final String REFUSED = new String("refused");

  /**
   * The register's transition: the value after op in a register holding state (null = absent),
   * or {@link #REFUSED} if op cannot happen in that state with the result it returned.
   */
  static String step(String state, Op op) {
    boolean unknown = op.outcome() == Op.Outcome.UNKNOWN;
    return switch (op.kind()) {
      case READ -> Objects.equals(state, op.result()) ? state : REFUSED;
      case WRITE -> op.value();
      case DELETE -> null;
      case CAS -> {
        boolean matches = Objects.equals(state, op.expect());
        if (unknown) {
          yield matches ? op.value() : state;
        }
        if (Boolean.TRUE.equals(op.flag())) {
          yield matches ? op.value() : REFUSED;
        }
        yield !matches && Objects.equals(state, op.result()) ? state : REFUSED;
      }
    };
  }

  // ---------------------------------------------------------------------------------------------
  // One key
  // ---------------------------------------------------------------------------------------------

  /** A call or return event in the doubly linked list the search walks. */
  private static final class Entry {
    final boolean call;
    final int op;
    final long time;
    Entry match;
    Entry prev;
    Entry next;

    Entry(boolean call, int op, long time) {
      this.call = call;
      this.op = op;
      this.time = time;
    }
  }

  /** The part of a configuration that must match exactly for one to subsume another. */
  private record Exact(Bits mandatory, String state) {
  }

  /**
   * One level of the depth-first search: a configuration, the operations that may be linearized
   * next, which one is tried next, and the call that was linearized to get here.
   */
  private static final class Level {
    final Entry[] candidates;
    int next;
    final String state;
    final Bits mandatory;
    final Bits optional;
    final Entry via;

    Level(Entry[] candidates, String state, Bits mandatory, Bits optional, Entry via) {
      this.candidates = candidates;
      this.state = state;
      this.mandatory = mandatory;
      this.optional = optional;
      this.via = via;
    }
  }

  /**
   * @param key the key
   * @param all the operations on that key
   * @return the verdict for that key
   */
  public KeyResult checkKey(String key, List<Op> all) {
    List<Op> live = new ArrayList<>();
    for (Op op : all) {
      if (!op.key().equals(key)) {
        throw new IllegalArgumentException("operation on another key: " + op);
      }
      if (op.outcome() == Op.Outcome.FAILED
          || op.kind() == Op.Kind.READ && op.outcome() != Op.Outcome.OK) {
        continue;
      }
      live.add(op);
    }
    // For each value: the latest completion of an operation that mentions it (a read that
    // returned it, a compare-and-set that expected it or saw it current), the earliest completion
    // of an acknowledged operation that certainly saw it, and how many operations write it.
    Map<String, Long> lastMention = new HashMap<>();
    Map<String, Long> firstObserved = new HashMap<>();
    Map<String, Integer> writers = new HashMap<>();
    for (Op op : live) {
      if (op.kind() == Op.Kind.READ) {
        lastMention.merge(op.result(), op.completeNanos(), Math::max);
      } else if (op.kind() == Op.Kind.CAS) {
        lastMention.merge(op.expect(), op.completeNanos(), Math::max);
        if (Boolean.FALSE.equals(op.flag())) {
          lastMention.merge(op.result(), op.completeNanos(), Math::max);
        }
      }
      if (op.kind() == Op.Kind.WRITE || op.kind() == Op.Kind.CAS) {
        writers.merge(op.value(), 1, Integer::sum);
      }
      String seen = definitelyObserved(op);
      if (seen != null) {
        firstObserved.merge(seen, op.completeNanos(), Math::min);
      }
    }
    List<Op> ops = new ArrayList<>();
    int dropped = 0;
    for (Op op : live) {
      if (op.outcome() == Op.Outcome.UNKNOWN && op.kind() != Op.Kind.READ
          && !(op.kind() == Op.Kind.CAS && Objects.equals(op.expect(), op.value()))
          && lastMention.getOrDefault(op.value(), Long.MIN_VALUE) < op.invokeNanos()) {
        dropped++; // nothing that could come after it ever mentions its value
      } else {
        ops.add(op);
      }
    }
    ops.sort(Comparator.comparingLong(Op::invokeNanos).thenComparingInt(Op::id));
    Op[] sorted = ops.toArray(new Op[0]);
    long[] returnAt = new long[sorted.length];
    for (int i = 0; i < sorted.length; i++) {
      Op op = sorted[i];
      returnAt[i] = op.completeNanos();
      if (op.outcome() == Op.Outcome.UNKNOWN && op.kind() != Op.Kind.DELETE
          && Integer.valueOf(1).equals(writers.get(op.value()))
          && firstObserved.containsKey(op.value())) {
        returnAt[i] = Math.max(op.invokeNanos(), firstObserved.get(op.value()));
      }
    }
    return search(key, sorted, returnAt, dropped);
  }

  /**
   * @return the non-absent value an acknowledged operation certainly saw as current, or null:
   *     what a read returned, what a swapping compare-and-set expected, what a refused one saw
   */
  private static String definitelyObserved(Op op) {
    if (op.outcome() != Op.Outcome.OK) {
      return null;
    }
    return switch (op.kind()) {
      case READ -> op.result();
      case CAS -> Boolean.TRUE.equals(op.flag()) ? op.expect() : op.result();
      default -> null;
    };
  }

  /**
   * The search. Operations with a return are mandatory; unknown ones without (those still
   * pending at the end) are optional. A configuration is (mandatory ones linearized, register
   * value, optional ones linearized); it is skipped if one with the same mandatory set and value
   * and a subset of its optional ones was explored: whatever completes this one completes that
   * one (optional operations only widen the choice, and real-time order is set by the mandatory
   * ones). Mandatory candidates are tried before optional ones, so small optional sets come first.
   */
  private KeyResult search(String key, Op[] ops, long[] returnAt, int dropped) {
    // Events in time order; at equal times calls come first, so touching operations count as
    // concurrent (the permissive reading: no false alarm from clock granularity).
    List<Entry> events = new ArrayList<>();
    int returnsLeft = 0;
    int[] optionalIndex = new int[ops.length];
    int optionals = 0;
    for (int i = 0; i < ops.length; i++) {
      Entry call = new Entry(true, i, ops[i].invokeNanos());
      events.add(call);
      if (returnAt[i] != Op.NEVER) {
        Entry ret = new Entry(false, i, returnAt[i]);
        call.match = ret;
        ret.match = call;
        events.add(ret);
        returnsLeft++;
        optionalIndex[i] = -1;
      } else {
        optionalIndex[i] = optionals++;
      }
    }
    events.sort(Comparator.comparingLong((Entry e) -> e.time).thenComparing(e -> !e.call)
        .thenComparingInt(e -> e.op));
    Entry head = new Entry(true, -1, Long.MIN_VALUE);
    Entry tail = new Entry(false, -1, Long.MAX_VALUE);
    Entry prev = head;
    for (Entry e : events) {
      prev.next = e;
      e.prev = prev;
      prev = e;
    }
    prev.next = tail;
    tail.prev = prev;
    if (returnsLeft == 0) {
      return new KeyResult(key, Verdict.LINEARIZABLE, ops.length, dropped, 0, "");
    }

    Map<Exact, List<Bits>> seen = new HashMap<>();
    Deque<Level> stack = new ArrayDeque<>();
    stack.push(new Level(candidates(head, ops), null, Bits.EMPTY, Bits.EMPTY, null));
    long explored = 0;
    int bestDepth = 0;
    List<Integer> bestOrder = List.of();
    String bestState = null;
    int blockedOp = firstReturn(head);
    while (!stack.isEmpty()) {
      Level level = stack.peek();
      if (level.next == level.candidates.length) {
        stack.pop();
        if (level.via != null) {
          unlift(level.via);
          if (level.via.match != null) {
            returnsLeft++;
          }
        }
        continue;
      }
      Entry call = level.candidates[level.next++];
      String after = step(level.state, ops[call.op]);
      if (after == REFUSED) {
        continue;
      }
      int opt = optionalIndex[call.op];
      Bits mandatory = opt < 0 ? level.mandatory.with(call.op) : level.mandatory;
      Bits optional = opt < 0 ? level.optional : level.optional.with(opt);
      List<Bits> explored0 = seen.computeIfAbsent(new Exact(mandatory, after),
          k -> new ArrayList<>(1));
      boolean subsumed = false;
      for (Bits o : explored0) {
        if (o.subsetOf(optional)) {
          subsumed = true;
          break;
        }
      }
      if (subsumed) {
        continue;
      }
      explored0.add(optional);
      if (++explored > maxConfigurations) {
        return new KeyResult(key, Verdict.UNKNOWN, ops.length, dropped, explored,
            "gave up after " + maxConfigurations + " configurations");
      }
      lift(call);
      if (call.match != null) {
        returnsLeft--;
      }
      if (returnsLeft == 0) {
        return new KeyResult(key, Verdict.LINEARIZABLE, ops.length, dropped, explored, "");
      }
      stack.push(new Level(candidates(head, ops), after, mandatory, optional, call));
      if (stack.size() - 1 > bestDepth) {
        bestDepth = stack.size() - 1;
        List<Integer> order = new ArrayList<>();
        stack.descendingIterator().forEachRemaining(l -> {
          if (l.via != null) {
            order.add(l.via.op);
          }
        });
        bestOrder = order;
        bestState = after;
        blockedOp = firstReturn(head);
      }
    }
    return new KeyResult(key, Verdict.NOT_LINEARIZABLE, ops.length, dropped, explored,
        explain(key, ops, bestOrder, bestState, blockedOp));
  }

  /**
   * @return the calls that may be linearized next: those before the first return of an operation
   *     not yet linearized, mandatory ones first; of optional operations with the same effect
   *     (two unknown deletes, say) only the earliest: any linearization that uses some of them can
   *     use them in the order they were invoked instead, since they stay available once invoked
   */
  private static Entry[] candidates(Entry head, Op[] ops) {
    List<Entry> mandatory = new ArrayList<>();
    List<Entry> optional = new ArrayList<>();
    Set<List<Object>> effects = new HashSet<>();
    for (Entry e = head.next; e.call; e = e.next) {
      if (e.match != null) {
        mandatory.add(e);
      } else if (effects.add(effect(ops[e.op]))) {
        optional.add(e);
      }
    }
    mandatory.addAll(optional);
    return mandatory.toArray(new Entry[0]);
  }

  /** @return what an operation does to the register, as a value to compare */
  private static List<Object> effect(Op op) {
    return java.util.Arrays.asList(op.kind(), op.expect(), op.value());
  }

  /** @return the operation whose return comes first among those not linearized, or -1 */
  private static int firstReturn(Entry head) {
    Entry e = head.next;
    while (e.call) {
      e = e.next;
    }
    return e.op;
  }

  private static void lift(Entry call) {
    call.prev.next = call.next;
    call.next.prev = call.prev;
    Entry ret = call.match;
    if (ret != null) {
      ret.prev.next = ret.next;
      ret.next.prev = ret.prev;
    }
  }

  private static void unlift(Entry call) {
    Entry ret = call.match;
    if (ret != null) {
      ret.prev.next = ret;
      ret.next.prev = ret;
    }
    call.prev.next = call;
    call.next.prev = call;
  }

  private static String explain(String key, Op[] ops, List<Integer> order, String state,
      int blocked) {
    StringBuilder sb = new StringBuilder("key ").append(key).append(": no linearization. ");
    if (order.isEmpty()) {
      sb.append("Not even the first operation can be linearized.");
    } else {
      sb.append("The longest linearizable prefix has ").append(order.size())
          .append(" operations; it ends with:");
      String s = null;
      List<String> lines = new ArrayList<>();
      for (int i : order) {
        s = step(s, ops[i]);
        lines.add("\n    " + ops[i] + "  => " + (s == null ? "absent" : "'" + s + "'"));
      }
      lines.subList(Math.max(0, lines.size() - 10), lines.size()).forEach(sb::append);
      sb.append("\n  value then: ").append(state == null ? "absent" : "'" + state + "'");
    }
    if (blocked >= 0) {
      Op b = ops[blocked];
      sb.append("\n  and this operation cannot be linearized next: ").append(b);
      Set<Integer> done = new HashSet<>(order);
      List<String> pending = new ArrayList<>();
      for (int i = 0; i < ops.length; i++) {
        if (!done.contains(i) && i != blocked && ops[i].invokeNanos() <= b.completeNanos()) {
          pending.add("\n    " + ops[i]);
        }
      }
      sb.append("\n  other operations not linearized that started before it returned (")
          .append(pending.size()).append("):");
      pending.subList(0, Math.min(10, pending.size())).forEach(sb::append);
    }
    return sb.toString();
  }

  /**
   * An immutable set of operation indexes: {@code full} words of all ones, then {@code words}
   * (with no trailing zero word). The search linearizes operations roughly in order, so the set
   * is mostly a run of ones and stays a few words long.
   */
  static final class Bits {
    static final Bits EMPTY = new Bits(0, new long[0]);

    private final int full;
    private final long[] words;
    private final int hash;

    private Bits(int full, long[] words) {
      this.full = full;
      this.words = words;
      this.hash = 31 * full + Arrays.hashCode(words);
    }

    /** @return true if i is in the set */
    boolean contains(int i) {
      int w = i >>> 6;
      if (w < full) {
        return true;
      }
      w -= full;
      return w < words.length && (words[w] & (1L << (i & 63))) != 0;
    }

    /** @return this set with i added */
    Bits with(int i) {
      if (contains(i)) {
        return this;
      }
      int w = (i >>> 6) - full;
      long[] ws = Arrays.copyOf(words, Math.max(words.length, w + 1));
      ws[w] |= 1L << (i & 63);
      int skip = 0;
      while (skip < ws.length && ws[skip] == -1L) {
        skip++;
      }
      return new Bits(full + skip, skip == 0 ? ws : Arrays.copyOfRange(ws, skip, ws.length));
    }

    /** @return true if every element of this set is in other */
    boolean subsetOf(Bits other) {
      if (full > other.full + other.words.length) {
        return false;
      }
      for (int w = 0; w < words.length; w++) {
        int abs = full + w;
        long theirs = abs < other.full ? -1L
            : abs - other.full < other.words.length ? other.words[abs - other.full] : 0L;
        if ((words[w] & ~theirs) != 0) {
          return false;
        }
      }
      return full <= other.full || allOnes(other, full);
    }

    /** @return true if other holds every index below 64 * words */
    private static boolean allOnes(Bits other, int words) {
      for (int w = other.full; w < words; w++) {
        int i = w - other.full;
        if (i >= other.words.length || other.words[i] != -1L) {
          return false;
        }
      }
      return true;
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Bits b && b.hash == hash && b.full == full
          && Arrays.equals(b.words, words);
    }

    @Override
    public int hashCode() {
      return hash;
    }
  }

  /**
   * @param history the operations
   * @return how many operations of each outcome, in the order ok, failed, unknown
   */
  public static Map<Op.Outcome, Long> outcomes(List<Op> history) {
    Map<Op.Outcome, Long> counts = new LinkedHashMap<>();
    for (Op.Outcome o : Op.Outcome.values()) {
      counts.put(o, history.stream().filter(op -> op.outcome() == o).count());
    }
    return counts;
  }
}
