package dev.raftvertx.jepsen;

import io.vertx.core.json.JsonObject;

/**
 * One operation of a history: what a client asked of one key, when, and what it learned.
 *
 * @param id unique within the history
 * @param client the client (a sequential process) that issued it
 * @param key the key
 * @param kind read, write, compare-and-set or delete
 * @param value the value written (write) or swapped in (compare-and-set); null otherwise
 * @param expect the value a compare-and-set expects (null = absent); null otherwise
 * @param outcome ok, failed (certainly not applied) or unknown (may take effect at any time after
 *     its invocation, or never)
 * @param flag compare-and-set: whether it swapped; delete: whether the key existed; null when not
 *     known
 * @param result read: the value read (null = absent); compare-and-set that did not swap: the
 *     current value it saw; null otherwise
 * @param invokeNanos when the client sent it (System.nanoTime)
 * @param completeNanos when the client got the answer; {@link Long#MAX_VALUE} when unknown
 * @param node the node it was sent to
 * @param detail the answer or error, for people reading the history
 */
public record Op(int id, int client, String key, Kind kind, String value, String expect,
    Outcome outcome, Boolean flag, String result, long invokeNanos, long completeNanos,
    String node, String detail) {

  /** What an operation does. */
  public enum Kind { READ, WRITE, CAS, DELETE }

  /** How an operation ended. */
  public enum Outcome {
    /** Acknowledged with a definite result. */
    OK,
    /** Certainly not applied (refused, or never sent). */
    FAILED,
    /** Timed out or indeterminate: may take effect at any time after invocation, or never. */
    UNKNOWN
  }

  /** Completion time of an operation whose outcome is unknown. */
  public static final long NEVER = Long.MAX_VALUE;

  public Op {
    if (outcome == Outcome.UNKNOWN && completeNanos != NEVER) {
      throw new IllegalArgumentException("an unknown operation never completes: " + id);
    }
    if (outcome != Outcome.UNKNOWN && completeNanos < invokeNanos) {
      throw new IllegalArgumentException("operation " + id + " completes before it starts");
    }
  }

  /** @return a read of key that returned value (null = absent) */
  public static Op read(int id, int client, String key, String value, long invoke, long complete) {
    return new Op(id, client, key, Kind.READ, null, null, Outcome.OK, null, value, invoke,
        complete, null, null);
  }

  /** @return an acknowledged write */
  public static Op write(int id, int client, String key, String value, long invoke,
      long complete) {
    return new Op(id, client, key, Kind.WRITE, value, null, Outcome.OK, null, null, invoke,
        complete, null, null);
  }

  /** @return a write whose outcome is unknown */
  public static Op writeUnknown(int id, int client, String key, String value, long invoke) {
    return new Op(id, client, key, Kind.WRITE, value, null, Outcome.UNKNOWN, null, null, invoke,
        NEVER, null, null);
  }

  /** @return a write that certainly was not applied */
  public static Op writeFailed(int id, int client, String key, String value, long invoke,
      long complete) {
    return new Op(id, client, key, Kind.WRITE, value, null, Outcome.FAILED, null, null, invoke,
        complete, null, null);
  }

  /** @return an acknowledged compare-and-set that swapped expect for value */
  public static Op casOk(int id, int client, String key, String expect, String value,
      long invoke, long complete) {
    return new Op(id, client, key, Kind.CAS, value, expect, Outcome.OK, true, null, invoke,
        complete, null, null);
  }

  /** @return an acknowledged compare-and-set that did not swap because the value was current */
  public static Op casRefused(int id, int client, String key, String expect, String value,
      String current, long invoke, long complete) {
    return new Op(id, client, key, Kind.CAS, value, expect, Outcome.OK, false, current, invoke,
        complete, null, null);
  }

  /** @return a compare-and-set whose outcome is unknown */
  public static Op casUnknown(int id, int client, String key, String expect, String value,
      long invoke) {
    return new Op(id, client, key, Kind.CAS, value, expect, Outcome.UNKNOWN, null, null, invoke,
        NEVER, null, null);
  }

  /** @return an acknowledged delete */
  public static Op delete(int id, int client, String key, long invoke, long complete) {
    return new Op(id, client, key, Kind.DELETE, null, null, Outcome.OK, null, null, invoke,
        complete, null, null);
  }

  /** @return true if this operation may change the key's value */
  public boolean mutates() {
    return kind != Kind.READ;
  }

  /** @return this operation as one line of a JSON-lines history file */
  public JsonObject toJson() {
    JsonObject j = new JsonObject().put("id", id).put("client", client).put("key", key)
        .put("kind", kind.name()).put("outcome", outcome.name()).put("invokeNanos", invokeNanos)
        .put("completeNanos", completeNanos == NEVER ? null : completeNanos);
    if (kind == Kind.WRITE || kind == Kind.CAS) {
      j.put("value", value);
    }
    if (kind == Kind.CAS) {
      j.put("expect", expect);
    }
    if (flag != null) {
      j.put(kind == Kind.CAS ? "swapped" : "existed", flag);
    }
    if (kind == Kind.READ && outcome == Outcome.OK || kind == Kind.CAS && Boolean.FALSE.equals(flag)) {
      j.put("result", result);
    }
    if (node != null) {
      j.put("node", node);
    }
    if (detail != null) {
      j.put("detail", detail);
    }
    return j;
  }

  /**
   * @param j a line written by {@link #toJson()}
   * @return the operation
   */
  public static Op fromJson(JsonObject j) {
    Kind kind = Kind.valueOf(j.getString("kind"));
    Long complete = j.getLong("completeNanos");
    Boolean flag = j.getBoolean(kind == Kind.CAS ? "swapped" : "existed");
    return new Op(j.getInteger("id"), j.getInteger("client"), j.getString("key"), kind,
        j.getString("value"), j.getString("expect"), Outcome.valueOf(j.getString("outcome")),
        flag, j.getString("result"), j.getLong("invokeNanos"),
        complete == null ? NEVER : complete, j.getString("node"), j.getString("detail"));
  }

  @Override
  public String toString() {
    String what = switch (kind) {
      case READ -> "read" + (outcome == Outcome.OK ? " -> " + show(result) : "");
      case WRITE -> "write " + show(value);
      case DELETE -> "delete" + (flag == null ? "" : flag ? " (existed)" : " (absent)");
      case CAS -> "cas " + show(expect) + " -> " + show(value) + (flag == null ? ""
          : flag ? " swapped" : " refused, current " + show(result));
    };
    return "#" + id + " c" + client + " " + key + " " + what + " " + outcome
        + (node == null ? "" : " @" + node) + " [" + invokeNanos + ", "
        + (completeNanos == NEVER ? "inf" : String.valueOf(completeNanos)) + "]";
  }

  private static String show(String v) {
    return v == null ? "absent" : "'" + v + "'";
  }
}
