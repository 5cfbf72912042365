package dev.raftvertx.kv;

import dev.raftvertx.client.KvBinaryProtocol;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.util.Objects;

/**
 * A write to the key-value store, as replicated in the log.
 *
 * <p><b>Log format</b> (big-endian): the format byte {@value #FORMAT}, the op byte (1 put,
 * 2 delete, 3 compare-and-set), the key as a UTF-8 string; a put then holds the value, a
 * compare-and-set the expected value (length -1: absent) and the new value. A string is its
 * UTF-8 length (int) and bytes. Logs written before this format hold JSON objects
 * ({@code {"op": "put", "key": .., "value": ..}}), which start with {@code '{'} and are still
 * read.
 */
public sealed interface KvCommand {

  /** The first byte of a binary command; a JSON command starts with {@code '{'}. */
  int FORMAT = 1;

  /** @return the key written */
  String key();

  /** @return the command encoded for the log */
  Buffer encode();

  /**
   * Sets a key.
   *
   * @param key the key
   * @param value the new value
   */
  record Put(String key, String value) implements KvCommand {
    @Override
    public Buffer encode() {
      byte[] k = key.getBytes(StandardCharsets.UTF_8);
      byte[] v = value.getBytes(StandardCharsets.UTF_8);
      return Buffer.buffer(10 + k.length + v.length).appendByte((byte) FORMAT)
          .appendByte((byte) 1).appendInt(k.length).appendBytes(k)
          .appendInt(v.length).appendBytes(v);
    }
  }

  /**
   * Removes a key.
   *
   * @param key the key
   */
  record Delete(String key) implements KvCommand {
    @Override
    public Buffer encode() {
      byte[] k = key.getBytes(StandardCharsets.UTF_8);
      return Buffer.buffer(6 + k.length).appendByte((byte) FORMAT).appendByte((byte) 2)
          .appendInt(k.length).appendBytes(k);
    }
  }

  /**
   * Sets a key only if its current value is {@code expect} (null: only if absent).
   *
   * @param key the key
   * @param expect the value expected now, or null for absent
   * @param value the new value
   */
  record CompareAndSet(String key, String expect, String value) implements KvCommand {
    @Override
    public Buffer encode() {
      Buffer b = Buffer.buffer(32 + key.length() + value.length())
          .appendByte((byte) FORMAT).appendByte((byte) 3);
      KvCodec.appendString(b, key);
      KvCodec.appendString(b, expect);
      return KvCodec.appendString(b, value);
    }
  }

  /**
   * @param data a command made by {@link #encode()}, or a JSON command from an older log
   * @return the command
   * @throws IllegalArgumentException if the bytes are not a command
   */
  static KvCommand decode(Buffer data) {
    if (data.length() > 0 && data.getByte(0) == '{') {
      return decodeJson(data);
    }
    KvBinaryProtocol.Cursor in = new KvBinaryProtocol.Cursor(data);
    if (in.uint8("format") != FORMAT) {
      throw new IllegalArgumentException("not a key-value command (format byte "
          + data.getByte(0) + ")");
    }
    int op = in.uint8("op");
    String key = required(in, "key");
    KvCommand c = switch (op) {
      case 1 -> new Put(key, required(in, "value"));
      case 2 -> new Delete(key);
      case 3 -> new CompareAndSet(key, in.text32("expect"), required(in, "value"));
      default -> throw new IllegalArgumentException("unknown op " + op);
    };
    KvCodec.requireEnd(in);
    return c;
  }

  private static String required(KvBinaryProtocol.Cursor in, String what) {
    String s = in.text32(what);
    if (s == null) {
      throw new IllegalArgumentException("no " + what);
    }
    return s;
  }

  private static KvCommand decodeJson(Buffer data) {
    JsonObject json;
    try {
      json = new JsonObject(data);
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("not a JSON command", e);
    }
    String key = Objects.requireNonNull(json.getString("key"), "key");
    return switch (String.valueOf(json.getString("op"))) {
      case "put" -> new Put(key, Objects.requireNonNull(json.getString("value"), "value"));
      case "delete" -> new Delete(key);
      case "cas" -> new CompareAndSet(key, json.getString("expect"),
          Objects.requireNonNull(json.getString("value"), "value"));
      default -> throw new IllegalArgumentException("unknown op " + json.getString("op"));
    };
  }
}
