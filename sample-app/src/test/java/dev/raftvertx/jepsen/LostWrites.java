package dev.raftvertx.jepsen;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Finds acknowledged writes that a final read shows lost, independently of the linearizability
 * search. With unique values, the final value of a key names the operations that may have written
 * it (writes and compare-and-sets of that value that were acknowledged or whose outcome is
 * unknown; for "absent", the deletes and the initial state). An acknowledged operation that
 * changed the key (write, swapping compare-and-set, delete) is lost if every one of those
 * possible writers completed before it was invoked: it should have overwritten them, and nothing
 * after it wrote the final value.
 */
public final class LostWrites {

  private LostWrites() {
  }

  /**
   * A lost acknowledged write.
   *
   * @param op the acknowledged operation
   * @param finalValue what the final read returned (null = absent)
   * @param why the explanation
   */
  public record Lost(Op op, String finalValue, String why) {
  }

  /**
   * @param history the operations (final reads may be included: they change nothing)
   * @param finalValues the value of each key read once the clients stopped and faults healed
   *     (null = absent); keys missing from the map are not checked
   * @return the lost acknowledged writes
   */
  public static List<Lost> find(List<Op> history, Map<String, String> finalValues) {
    List<Lost> lost = new ArrayList<>();
    for (Map.Entry<String, String> e : finalValues.entrySet()) {
      String key = e.getKey();
      String f = e.getValue();
      List<Op> writers = new ArrayList<>();
      boolean initialPossible = f == null;
      for (Op op : history) {
        if (op.key().equals(key) && mayHaveWritten(op, f)) {
          writers.add(op);
        }
      }
      for (Op w : history) {
        if (!w.key().equals(key) || !acknowledgedChange(w) || writers.contains(w)) {
          continue;
        }
        boolean allBefore = writers.stream().allMatch(x -> x.completeNanos() < w.invokeNanos());
        if (allBefore) {
          String why = writers.isEmpty() && !initialPossible
              ? "no operation wrote the final value " + f
              : "the final value " + (f == null ? "absent" : "'" + f + "'")
                  + " was written only by operations that completed before this acknowledged"
                  + " one started" + (initialPossible ? " (or is the initial state)" : "");
          lost.add(new Lost(w, f, why));
        }
      }
    }
    return lost;
  }

  private static boolean mayHaveWritten(Op op, String value) {
    if (op.outcome() == Op.Outcome.FAILED) {
      return false;
    }
    return switch (op.kind()) {
      case READ -> false;
      case DELETE -> value == null;
      case WRITE -> Objects.equals(op.value(), value);
      case CAS -> !Boolean.FALSE.equals(op.flag()) && Objects.equals(op.value(), value);
    };
  }

  private static boolean acknowledgedChange(Op op) {
    return op.outcome() == Op.Outcome.OK && switch (op.kind()) {
      case READ -> false;
      case WRITE, DELETE -> true;
      case CAS -> Boolean.TRUE.equals(op.flag());
    };
  }
}
