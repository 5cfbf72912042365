package dev.raftvertx.kv;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import java.util.Objects;

/** A write to the key-value store, as replicated in the log (JSON). */
public sealed interface KvCommand {

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
      return new JsonObject().put("op", "put").put("key", key).put("value", value).toBuffer();
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
      return new JsonObject().put("op", "delete").put("key", key).toBuffer();
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
      return new JsonObject().put("op", "cas").put("key", key).put("expect", expect)
          .put("value", value).toBuffer();
    }
  }

  /**
   * @param data a command made by {@link #encode()}
   * @return the command
   * @throws IllegalArgumentException if the bytes are not a command
   */
  static KvCommand decode(Buffer data) {
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
