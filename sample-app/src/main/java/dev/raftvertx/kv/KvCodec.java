package dev.raftvertx.kv;

import dev.raftvertx.client.KvBinaryProtocol;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;

/**
 * The binary forms of the key-value state machine's results, queries and answers (commands are
 * {@link KvCommand}). Big-endian; a string is its UTF-8 length (int, -1 for null) and bytes, the
 * {@code bytes32} of the binary client protocol, read with its {@link KvBinaryProtocol.Cursor}.
 *
 * <ul>
 *   <li>put result: empty; delete result: one byte, 1 if the key existed;</li>
 *   <li>compare-and-set result: one byte, 1 if it swapped, then the value before the command;</li>
 *   <li>query: the key; answer: the value, null when the key is absent.</li>
 * </ul>
 *
 * <p>Results are kept in the replicated session table (a retried command answers with its first
 * result), so a snapshot taken before this format can hand back a JSON result
 * ({@code {"deleted": ..}}, {@code {"swapped": .., "current": ..}}); those are still read.
 */
public final class KvCodec {

  private KvCodec() {
  }

  /** @return the result of a put */
  public static Buffer putResult() {
    return Buffer.buffer(0);
  }

  /**
   * @param deleted whether the key existed
   * @return the result of a delete
   */
  public static Buffer deleteResult(boolean deleted) {
    return Buffer.buffer(1).appendByte((byte) (deleted ? 1 : 0));
  }

  /**
   * @param result a delete's result
   * @return whether the key existed
   */
  public static boolean deleted(Buffer result) {
    if (isJson(result)) {
      return new JsonObject(result).getBoolean("deleted", false);
    }
    return result.length() == 1 && result.getByte(0) == 1;
  }

  /**
   * @param swapped whether the value was swapped
   * @param current the value before the command, or null
   * @return the result of a compare-and-set
   */
  public static Buffer casResult(boolean swapped, String current) {
    return appendString(Buffer.buffer(16).appendByte((byte) (swapped ? 1 : 0)), current);
  }

  /**
   * A compare-and-set's outcome.
   *
   * @param swapped whether the new value was set
   * @param current the value before the command, or null if the key was absent
   */
  public record CasOutcome(boolean swapped, String current) {

    /**
     * @param result a compare-and-set's result
     * @return its outcome
     * @throws IllegalArgumentException if the bytes are not such a result
     */
    public static CasOutcome of(Buffer result) {
      if (isJson(result)) {
        JsonObject r = new JsonObject(result);
        return new CasOutcome(r.getBoolean("swapped", false), r.getString("current"));
      }
      KvBinaryProtocol.Cursor in = new KvBinaryProtocol.Cursor(result);
      CasOutcome o = new CasOutcome(in.uint8("swapped") == 1, in.text32("current"));
      requireEnd(in);
      return o;
    }
  }

  /**
   * @param key the key to read
   * @return the query
   */
  public static Buffer query(String key) {
    return Buffer.buffer(key, StandardCharsets.UTF_8.name());
  }

  /**
   * @param query a query
   * @return the key it reads
   */
  public static String queryKey(Buffer query) {
    return query.toString(StandardCharsets.UTF_8);
  }

  /**
   * @param value the value read, or null if the key is absent
   * @return the answer
   */
  public static Buffer answer(String value) {
    return appendString(Buffer.buffer(value == null ? 4 : 4 + value.length() * 3), value);
  }

  /**
   * @param answer an answer to a query
   * @return the value read, or null if the key is absent
   * @throws IllegalArgumentException if the bytes are not an answer
   */
  public static String value(Buffer answer) {
    KvBinaryProtocol.Cursor in = new KvBinaryProtocol.Cursor(answer);
    String v = in.text32("value");
    requireEnd(in);
    return v;
  }

  /**
   * Appends a string: its UTF-8 length (-1 for null) and bytes.
   *
   * @param b the buffer
   * @param s the string, or null
   * @return the buffer
   */
  static Buffer appendString(Buffer b, String s) {
    if (s == null) {
      return b.appendInt(-1);
    }
    byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
    return b.appendInt(bytes.length).appendBytes(bytes);
  }

  private static boolean isJson(Buffer b) {
    return b.length() > 0 && b.getByte(0) == '{';
  }

  /**
   * Fails if the cursor did not read every byte.
   *
   * @param in a cursor over a binary form
   * @throws IllegalArgumentException if bytes are left over
   */
  static void requireEnd(KvBinaryProtocol.Cursor in) {
    if (!in.atEnd()) {
      throw new IllegalArgumentException("bytes after the end");
    }
  }
}
