package dev.raftvertx.kv.bench;

import io.vertx.core.json.JsonObject;
import java.util.Random;

/**
 * One benchmark configuration: what each slot does, how many slots, how long.
 *
 * @param op "write" (a put of a {@code payload}-byte value to the slot's own key) or "read" (a get
 *     of a key written before)
 * @param consistency for reads "linearizable" or "stale"; "-" for writes
 * @param clients operations in flight
 * @param payload the size of a written value in bytes
 * @param warmupSeconds warm-up before measuring
 * @param seconds the measuring window
 */
public record LoadSpec(String op, String consistency, int clients, int payload,
    double warmupSeconds, double seconds) {

  /** The key every read reads; written before any read. */
  public static final String READ_KEY = "bench-0";

  /** @return true for writes */
  public boolean write() {
    return op.equals("write");
  }

  /** @return true for stale reads */
  public boolean stale() {
    return consistency.equals("stale");
  }

  /**
   * @param slot a slot
   * @return the key the slot writes
   */
  public static String key(int slot) {
    return "bench-" + slot;
  }

  /**
   * @param size bytes
   * @return a value of printable ASCII letters, the same for every run
   */
  public static String value(int size) {
    Random r = new Random(42);
    StringBuilder sb = new StringBuilder(size);
    for (int i = 0; i < size; i++) {
      sb.append((char) ('a' + r.nextInt(26)));
    }
    return sb.toString();
  }

  /** @return the spec as JSON (sent to the embedded load generator) */
  public JsonObject toJson() {
    return new JsonObject().put("op", op).put("consistency", consistency).put("clients", clients)
        .put("payload", payload).put("warmupSeconds", warmupSeconds).put("seconds", seconds);
  }

  /**
   * @param json a spec made by {@link #toJson()}
   * @return the spec
   */
  public static LoadSpec fromJson(JsonObject json) {
    return new LoadSpec(json.getString("op"), json.getString("consistency"),
        json.getInteger("clients"), json.getInteger("payload"),
        json.getDouble("warmupSeconds"), json.getDouble("seconds"));
  }
}
