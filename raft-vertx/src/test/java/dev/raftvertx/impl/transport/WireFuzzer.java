package dev.raftvertx.impl.transport;

import dev.raftvertx.core.Configuration;
import dev.raftvertx.core.EntryType;
import dev.raftvertx.core.LogEntry;
import dev.raftvertx.core.Message;
import dev.raftvertx.core.ProposeResult;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * A structure-aware generator and mutator of {@link RaftWire} messages, for the fuzz tests. It
 * makes valid messages of every type (and takes the hand-written samples of
 * {@link RaftWireTest#samples()}), then breaks their JSON the ways a confused or hostile peer
 * would: wrong JSON types, negative, huge and fractional numbers, missing, extra and renamed
 * fields, unknown and swapped message types, bad ids, bad base64, and, inside the binary fields,
 * wrong entry counts, truncated and oversized blobs, broken entry headers and malformed
 * configurations. Everything it draws comes from the {@link Random} it is handed.
 */
public final class WireFuzzer {

  /** Field names of every message type, for unknown, renamed and type-confused fields. */
  private static final List<String> FIELD_NAMES = List.of("v", "cluster", "type", "from", "to",
      "term", "lastLogIndex", "lastLogTerm", "preVote", "transfer", "voteGranted", "prevLogIndex",
      "prevLogTerm", "entries", "leaderCommit", "round", "success", "matchIndex", "rejectedIndex",
      "conflictTerm", "conflictIndex", "requestId", "entryType", "session", "sequence", "data",
      "status", "index", "entryTerm", "leaderHint", "ok", "readIndex", "snapshotTerm", "meta",
      "size", "checksum", "offset", "configuration", "sessions", "nextOffset", "done");

  /** The binary (base64) fields. */
  private static final Set<String> BYTE_FIELDS = Set.of("entries", "data", "configuration",
      "sessions");

  private static final List<String> TYPE_NAMES = List.of("VoteRequest", "VoteResponse",
      "AppendEntriesRequest", "AppendEntriesResponse", "TimeoutNow", "ProposeRequest",
      "ProposeResponse", "ReadIndexRequest", "ReadIndexResponse", "SnapshotChunk",
      "SnapshotChunkResponse");

  private static final String ID_CHARS = "abcnxyz0123456789-_.:@/éœ漢";

  private static final List<Message> SAMPLES = RaftWireTest.samples();

  private WireFuzzer() {
  }

  // ------------------------------------------------------------------------------------------
  // Valid messages
  // ------------------------------------------------------------------------------------------

  /**
   * @param r the source of randomness
   * @return a valid message: one of the hand-written samples or a generated one of any type
   */
  public static Message validMessage(Random r) {
    return r.nextInt(8) == 0 ? SAMPLES.get(r.nextInt(SAMPLES.size())) : generate(r);
  }

  /**
   * @param r the source of randomness
   * @return a generated valid message of a type drawn at random, with edge values often
   */
  public static Message generate(Random r) {
    long term = number(r);
    String from = nodeId(r);
    String to = nodeId(r);
    return switch (r.nextInt(11)) {
      case 0 -> new Message.VoteRequest(term, from, to, number(r), number(r), r.nextBoolean(),
          r.nextBoolean());
      case 1 -> new Message.VoteResponse(term, from, to, r.nextBoolean(), r.nextBoolean());
      case 2 -> {
        long prevLogTerm = atMost(r, term);
        int count = r.nextInt(10) == 0 ? r.nextInt(30) : r.nextInt(4);
        long prevLogIndex = r.nextInt(6) == 0 ? Long.MAX_VALUE - count : number(r) / 2;
        yield new Message.AppendEntriesRequest(term, from, to, prevLogIndex, prevLogTerm,
            entries(r, count, prevLogIndex, prevLogTerm, term), number(r), number(r));
      }
      case 3 -> new Message.AppendEntriesResponse(term, from, to, r.nextBoolean(), number(r),
          number(r), number(r), number(r), number(r));
      case 4 -> new Message.TimeoutNow(term, from, to);
      case 5 -> new Message.ProposeRequest(term, from, to, number(r),
          EntryType.values()[r.nextInt(EntryType.values().length)], number(r), number(r),
          bytes(r, r.nextInt(10) == 0 ? 2_000 : 40));
      case 6 -> new Message.ProposeResponse(term, from, to, number(r),
          ProposeResult.Status.values()[r.nextInt(ProposeResult.Status.values().length)],
          number(r), number(r), r.nextBoolean() ? null : nodeId(r));
      case 7 -> new Message.ReadIndexRequest(term, from, to, number(r));
      case 8 -> new Message.ReadIndexResponse(term, from, to, number(r), r.nextBoolean(),
          number(r));
      case 9 -> {
        byte[] data = bytes(r, 100);
        boolean first = r.nextBoolean();
        long offset = first ? 0 : atMost(r, Long.MAX_VALUE - data.length);
        long size = offset + data.length
            + atMost(r, Math.min(1_000_000, Long.MAX_VALUE - offset - data.length));
        long index = 1 + atMost(r, Long.MAX_VALUE - 1);
        yield new Message.SnapshotChunk(term, from, to, index, number(r),
            first ? configuration(r) : null, first ? bytes(r, 60) : null, size, r.nextInt(),
            offset, data);
      }
      default -> new Message.SnapshotChunkResponse(term, from, to, number(r), r.nextBoolean(),
          number(r), r.nextBoolean());
    };
  }

  /** A non-negative long: often an edge (0, 1, 2^31, Long.MAX_VALUE), else small or any. */
  static long number(Random r) {
    return switch (r.nextInt(8)) {
      case 0 -> 0;
      case 1 -> 1;
      case 2 -> Long.MAX_VALUE;
      case 3 -> Integer.MAX_VALUE + 1L;
      case 4 -> r.nextLong() & Long.MAX_VALUE;
      default -> r.nextInt(1000);
    };
  }

  private static long atMost(Random r, long max) {
    if (max <= 0) {
      return 0;
    }
    return switch (r.nextInt(4)) {
      case 0 -> 0;
      case 1 -> max;
      default -> (r.nextLong() & Long.MAX_VALUE) % (max + (max == Long.MAX_VALUE ? 0 : 1));
    };
  }

  /** A valid node id: 1 to 255 characters, none of them whitespace or control. */
  static String nodeId(Random r) {
    int length = switch (r.nextInt(10)) {
      case 0 -> RaftWire.MAX_ID_LENGTH;
      case 1 -> 1 + r.nextInt(RaftWire.MAX_ID_LENGTH);
      default -> 1 + r.nextInt(6);
    };
    StringBuilder b = new StringBuilder(length);
    while (b.length() < length) {
      if (r.nextInt(40) == 0 && b.length() + 2 <= length) {
        b.appendCodePoint(0x1F680 + r.nextInt(64)); // a surrogate pair
      } else {
        b.append(ID_CHARS.charAt(r.nextInt(ID_CHARS.length())));
      }
    }
    return b.toString();
  }

  private static List<LogEntry> entries(Random r, int count, long prevLogIndex, long prevLogTerm,
      long term) {
    List<LogEntry> out = new ArrayList<>(count);
    long t = prevLogTerm;
    for (int i = 0; i < count; i++) {
      t = t + atMost(r, Math.min(term - t, 3));
      out.add(new LogEntry(prevLogIndex + 1 + i, t,
          EntryType.values()[r.nextInt(EntryType.values().length)], number(r), number(r),
          number(r), bytes(r, r.nextInt(20) == 0 ? 1_000 : 24)));
    }
    return out;
  }

  private static byte[] bytes(Random r, int max) {
    byte[] b = new byte[r.nextInt(max + 1)];
    r.nextBytes(b);
    return b;
  }

  private static Configuration configuration(Random r) {
    TreeSet<String> voters = new TreeSet<>();
    TreeSet<String> outgoing = new TreeSet<>();
    TreeSet<String> learners = new TreeSet<>();
    TreeMap<String, String> addresses = new TreeMap<>();
    int n = r.nextInt(6);
    for (int i = 0; i < n; i++) {
      String id = nodeId(r);
      switch (r.nextInt(3)) {
        case 0 -> voters.add(id);
        case 1 -> outgoing.add(id);
        default -> learners.add(id);
      }
      if (r.nextBoolean()) {
        addresses.put(id, "127.0.0.1:" + (7000 + r.nextInt(1000)));
      }
    }
    learners.removeAll(voters);
    learners.removeAll(outgoing);
    return new Configuration(voters, outgoing, learners, addresses);
  }

  // ------------------------------------------------------------------------------------------
  // Mutations of the JSON form
  // ------------------------------------------------------------------------------------------

  /**
   * Applies one to three structure-aware mutations to a copy of a message's JSON form.
   *
   * @param valid the JSON of a valid message
   * @param r the source of randomness
   * @param limit the byte limit of the wire under test, for blobs around it
   * @return the mutated copy
   */
  public static JsonObject mutate(JsonObject valid, Random r, int limit) {
    JsonObject json = valid.copy();
    int n = 1 + (r.nextInt(3) == 0 ? r.nextInt(3) : 0);
    for (int i = 0; i < n; i++) {
      mutateOnce(json, r, limit);
    }
    return json;
  }

  private static void mutateOnce(JsonObject json, Random r, int limit) {
    List<String> fields = new ArrayList<>(json.fieldNames());
    String field = fields.isEmpty() ? "term" : fields.get(r.nextInt(fields.size()));
    switch (r.nextInt(14)) {
      case 0, 1 -> json.put(field, weirdValue(r));
      case 2 -> json.remove(field);
      case 3 -> json.put(r.nextBoolean() ? FIELD_NAMES.get(r.nextInt(FIELD_NAMES.size()))
          : "x" + r.nextInt(100), weirdValue(r));
      case 4 -> { // rename a field
        Object value = json.remove(field);
        json.put(r.nextBoolean() ? field.toUpperCase() : field + "_", value);
      }
      case 5 -> tweakNumber(json, r);
      case 6 -> json.put("type", switch (r.nextInt(4)) {
        case 0 -> "InstallSnapshot";
        case 1 -> TYPE_NAMES.get(r.nextInt(TYPE_NAMES.size())).toLowerCase();
        case 2 -> " " + TYPE_NAMES.get(r.nextInt(TYPE_NAMES.size()));
        default -> TYPE_NAMES.get(r.nextInt(TYPE_NAMES.size())); // fields of another type
      });
      case 7 -> {
        switch (r.nextInt(3)) {
          case 0 -> json.put("v", r.nextBoolean() ? (Object) 2 : (Object) "1");
          case 1 -> json.put("v", r.nextBoolean() ? (Object) 1.0 : (Object) Long.MIN_VALUE);
          default -> json.put("cluster", List.of("c2", "C1", "c1 ", "", "c1\u0000", "c.1")
              .get(r.nextInt(6)));
        }
      }
      case 8 -> json.put(r.nextBoolean() ? "from" : r.nextBoolean() ? "to" : "leaderHint",
          badNodeId(r));
      case 9 -> corruptBase64Text(json, r);
      case 10, 11 -> mutateBlob(json, r, limit);
      case 12 -> blobAroundLimit(json, r, limit);
      default -> {
        if (json.containsKey("meta")) {
          json.put("meta", !Boolean.TRUE.equals(json.getValue("meta")));
        } else {
          json.put(field, weirdValue(r));
        }
      }
    }
  }

  /** A value of any JSON type, often one a field of that name does not allow. */
  static Object weirdValue(Random r) {
    return switch (r.nextInt(22)) {
      case 0 -> null;
      case 1 -> "";
      case 2 -> "x";
      case 3 -> "1";
      case 4 -> 1;
      case 5 -> -1;
      case 6 -> 0;
      case 7 -> Long.MAX_VALUE;
      case 8 -> Long.MIN_VALUE;
      case 9 -> Integer.MIN_VALUE;
      case 10 -> 1.5;
      case 11 -> -0.0;
      case 12 -> Double.NaN;
      case 13 -> true;
      case 14 -> false;
      case 15 -> new JsonArray();
      case 16 -> new JsonArray().add(1).add("a");
      case 17 -> new JsonObject().put("a", 1);
      case 18 -> BigInteger.ONE.shiftLeft(64);
      case 19 -> new BigDecimal("1E+30");
      case 20 -> "é".repeat(r.nextInt(3_000));
      default -> (short) 7;
    };
  }

  private static void tweakNumber(JsonObject json, Random r) {
    List<String> numeric = new ArrayList<>();
    for (String f : json.fieldNames()) {
      if (json.getValue(f) instanceof Number) {
        numeric.add(f);
      }
    }
    if (numeric.isEmpty()) {
      return;
    }
    String f = numeric.get(r.nextInt(numeric.size()));
    long n = ((Number) json.getValue(f)).longValue();
    json.put(f, switch (r.nextInt(8)) {
      case 0 -> n + 1;
      case 1 -> n - 1;
      case 2 -> -n;
      case 3 -> 0L;
      case 4 -> Long.MAX_VALUE;
      case 5 -> Long.MIN_VALUE;
      case 6 -> n * 2;
      default -> r.nextLong();
    });
  }

  private static String badNodeId(Random r) {
    return switch (r.nextInt(7)) {
      case 0 -> "";
      case 1 -> " a";
      case 2 -> "a\nb";
      case 3 -> "x".repeat(RaftWire.MAX_ID_LENGTH + 1);
      case 4 -> "a\u0000";
      case 5 -> "a\u2028b"; // a line separator: whitespace
      default -> nodeId(r); // a valid one: for another node, or the leaderHint
    };
  }

  private static String byteField(JsonObject json, Random r) {
    List<String> present = new ArrayList<>();
    for (String f : json.fieldNames()) {
      if (BYTE_FIELDS.contains(f) && json.getValue(f) instanceof String) {
        present.add(f);
      }
    }
    return present.isEmpty() ? null : present.get(r.nextInt(present.size()));
  }

  /** Breaks the base64 text itself: bad characters, padding, truncation. */
  private static void corruptBase64Text(JsonObject json, Random r) {
    String f = byteField(json, r);
    if (f == null) {
      return;
    }
    String text = json.getString(f);
    int at = text.isEmpty() ? 0 : r.nextInt(text.length() + 1);
    String bad = switch (r.nextInt(9)) {
      case 0 -> text.substring(0, at) + "!" + text.substring(at);
      case 1 -> text.substring(0, at) + " " + text.substring(at);
      case 2 -> text.substring(0, at) + "\n" + text.substring(at);
      case 3 -> text.replace('+', '-').replace('/', '_') + (r.nextBoolean() ? "-_" : "");
      case 4 -> text.replace("=", "");
      case 5 -> text + "==";
      case 6 -> text.isEmpty() ? "=" : text.substring(0, at);
      case 7 -> text.substring(0, at) + "=" + text.substring(at);
      default -> text + text;
    };
    json.put(f, bad);
  }

  /** Mutates the bytes inside a binary field, knowing their structure. */
  private static void mutateBlob(JsonObject json, Random r, int limit) {
    String f = byteField(json, r);
    if (f == null) {
      return;
    }
    byte[] blob;
    try {
      blob = Base64.getDecoder().decode(json.getString(f));
    } catch (IllegalArgumentException e) {
      return; // already broken text
    }
    byte[] out = switch (f) {
      case "entries" -> r.nextInt(4) == 0 ? mutateBytes(blob, r)
          : mutateEntries(blob, r, json.getValue("term") instanceof Number t ? t.longValue() : 0);
      case "configuration" -> r.nextInt(3) == 0 ? mutateBytes(blob, r) : badConfiguration(r);
      default -> mutateBytes(blob, r);
    };
    json.put(f, Base64.getEncoder().encodeToString(out));
  }

  /** Generic byte mutations: flips, truncation, insertion, random content. */
  static byte[] mutateBytes(byte[] blob, Random r) {
    byte[] b = blob.clone();
    switch (r.nextInt(5)) {
      case 0 -> {
        for (int i = 0, n = 1 + r.nextInt(4); i < n && b.length > 0; i++) {
          b[r.nextInt(b.length)] ^= (byte) (1 << r.nextInt(8));
        }
      }
      case 1 -> b = Arrays.copyOf(b, b.length == 0 ? 0 : r.nextInt(b.length));
      case 2 -> {
        byte[] extra = new byte[1 + r.nextInt(8)];
        r.nextBytes(extra);
        int at = r.nextInt(b.length + 1);
        byte[] c = new byte[b.length + extra.length];
        System.arraycopy(b, 0, c, 0, at);
        System.arraycopy(extra, 0, c, at, extra.length);
        System.arraycopy(b, at, c, at + extra.length, b.length - at);
        b = c;
      }
      case 3 -> r.nextBytes(b);
      default -> {
        if (b.length > 0) {
          b[r.nextInt(b.length)] = (byte) (r.nextBoolean() ? 0xFF : 0x80);
        }
      }
    }
    return b;
  }

  /** Mutates the entries blob field by field: count, index, term, type, session, length. */
  private static byte[] mutateEntries(byte[] blob, Random r, long term) {
    if (blob.length < 4) {
      return mutateBytes(blob, r);
    }
    ByteBuffer buf = ByteBuffer.wrap(blob.clone());
    int count = buf.getInt(0);
    List<Integer> starts = new ArrayList<>();
    int pos = 4;
    for (int i = 0; i < count && pos + RaftWire.ENTRY_HEADER_BYTES <= blob.length; i++) {
      starts.add(pos);
      int length = buf.getInt(pos + RaftWire.ENTRY_HEADER_BYTES - 4);
      if (length < 0 || length > blob.length) {
        break;
      }
      pos += RaftWire.ENTRY_HEADER_BYTES + length;
    }
    int what = r.nextInt(10);
    if (what == 0 || starts.isEmpty()) {
      buf.putInt(0, switch (r.nextInt(6)) {
        case 0 -> count + 1;
        case 1 -> count - 1;
        case 2 -> -1;
        case 3 -> Integer.MAX_VALUE;
        case 4 -> 0;
        default -> r.nextInt();
      });
      return buf.array();
    }
    int e = starts.get(r.nextInt(starts.size()));
    switch (what) {
      case 1 -> buf.putLong(e, buf.getLong(e) + (r.nextBoolean() ? 1 : -1)); // index: a gap
      case 2 -> buf.putLong(e, r.nextBoolean() ? 0 : Long.MIN_VALUE);
      case 3 -> buf.putLong(e + 8, switch (r.nextInt(4)) { // term
        case 0 -> term + 1;
        case 1 -> -1;
        case 2 -> buf.getLong(e + 8) - 1;
        default -> Long.MAX_VALUE;
      });
      case 4 -> buf.put(e + 16, (byte) (EntryType.values().length + r.nextInt(252)));
      case 5 -> buf.putLong(e + 17 + 8 * r.nextInt(3), -1 - r.nextInt(5)); // session, seq, time
      case 6 -> buf.putInt(e + RaftWire.ENTRY_HEADER_BYTES - 4, switch (r.nextInt(5)) {
        case 0 -> buf.getInt(e + RaftWire.ENTRY_HEADER_BYTES - 4) + 1;
        case 1 -> buf.getInt(e + RaftWire.ENTRY_HEADER_BYTES - 4) - 1;
        case 2 -> -1;
        case 3 -> Integer.MAX_VALUE;
        default -> Integer.MIN_VALUE;
      });
      case 7 -> { // truncated inside an entry
        return Arrays.copyOf(buf.array(), e + r.nextInt(RaftWire.ENTRY_HEADER_BYTES));
      }
      case 8 -> { // a duplicated entry at the end, count raised
        int next = starts.indexOf(e) + 1;
        int end = next < starts.size() ? starts.get(next) : pos;
        byte[] one = Arrays.copyOfRange(buf.array(), e, end);
        byte[] out = Arrays.copyOf(buf.array(), buf.array().length + one.length);
        System.arraycopy(one, 0, out, buf.array().length, one.length);
        ByteBuffer.wrap(out).putInt(0, count + 1);
        return out;
      }
      default -> { // trailing bytes
        return Arrays.copyOf(buf.array(), buf.array().length + 1 + r.nextInt(3));
      }
    }
    return buf.array();
  }

  /** A configuration encoding that is wrong in one way, or right but unusual. */
  private static byte[] badConfiguration(Random r) {
    try {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      DataOutputStream out = new DataOutputStream(bytes);
      int kind = r.nextInt(9);
      out.writeByte(kind == 0 ? 2 : 1);
      for (int set = 0; set < 3; set++) {
        if (kind == 1 && set == 1) {
          out.writeInt(r.nextBoolean() ? -1 : Integer.MAX_VALUE);
          return bytes.toByteArray();
        }
        int n = kind == 2 ? 3 : 1;
        out.writeInt(n);
        for (int i = 0; i < n; i++) {
          out.writeUTF(kind == 2 ? "dup" : kind == 3 && set == 2 ? "a0" : "a" + set);
        }
      }
      if (kind == 4) {
        out.writeInt(1);
        out.writeShort(4);
        out.write(new byte[] {(byte) 0xC0, (byte) 0x80, (byte) 0xED, (byte) 0xFF}); // bad UTF-8
        out.writeUTF("v");
      } else if (kind == 5) {
        out.writeInt(2);
        out.writeUTF("a0");
      } else {
        out.writeInt(kind == 6 ? 100_001 : 0);
      }
      if (kind == 7) {
        out.writeByte(0); // trailing
      }
      byte[] b = bytes.toByteArray();
      return kind == 8 ? Arrays.copyOf(b, r.nextInt(b.length)) : b;
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * Replaces a binary field with one of a size just under, at or over the wire's limit: for the
   * entries, a well-formed blob of one entry whose total size is that close to the limit.
   */
  private static void blobAroundLimit(JsonObject json, Random r, int limit) {
    String f = byteField(json, r);
    if (f == null || limit > (1 << 20)) {
      return; // the default limit is too large to build blobs around on every case
    }
    int size = limit - 3 + r.nextInt(7);
    byte[] blob;
    if (f.equals("entries")) {
      long prevLogIndex = json.getValue("prevLogIndex") instanceof Number p ? p.longValue() : 0;
      long prevLogTerm = json.getValue("prevLogTerm") instanceof Number p ? p.longValue() : 0;
      int data = Math.max(0, size - 4 - RaftWire.ENTRY_HEADER_BYTES);
      blob = ByteBuffer.allocate(4 + RaftWire.ENTRY_HEADER_BYTES + data).putInt(1)
          .putLong(prevLogIndex + 1).putLong(prevLogTerm).put((byte) EntryType.COMMAND.ordinal())
          .putLong(0).putLong(0).putLong(0).putInt(data).array(); // fields may be mutated already
    } else {
      blob = new byte[size];
      r.nextBytes(blob);
      if (f.equals("data") && json.containsKey("size") && json.containsKey("offset")) {
        json.put("size", (json.getValue("offset") instanceof Number o ? o.longValue() : 0) + size);
      }
    }
    json.put(f, Base64.getEncoder().encodeToString(blob));
  }

  // ------------------------------------------------------------------------------------------
  // Mutations of the binary form (AppendEntries and its response)
  // ------------------------------------------------------------------------------------------

  /**
   * @param r the source of randomness
   * @return a valid message that has a binary form: a sample or a generated one
   */
  public static Message validBinaryMessage(Random r) {
    while (true) {
      Message m = validMessage(r);
      if (RaftWire.supportsBinary(m)) {
        return m;
      }
    }
  }

  /**
   * Applies one to three mutations to a copy of a message's binary form, knowing its layout
   * ({@link RaftWire#encodeBinary}): the magic, version and type bytes, the length and bytes of
   * the cluster and node ids (bad UTF-8, whitespace, lengths off), the numbers (negative), the
   * success byte, the entries blob's length (negative, off by one, around the limit) and content
   * (as for the JSON form), truncation, trailing bytes and flipped bytes.
   *
   * @param valid the binary form of a valid message
   * @param r the source of randomness
   * @param limit the byte limit of the wire under test
   * @return the mutated copy
   */
  public static byte[] mutateBinary(byte[] valid, Random r, int limit) {
    byte[] b = valid.clone();
    int n = 1 + (r.nextInt(3) == 0 ? r.nextInt(3) : 0);
    for (int i = 0; i < n; i++) {
      b = mutateBinaryOnce(b, r, limit);
    }
    return b;
  }

  /** Where the fields of a binary message start, as far as the bytes allow. */
  private record BinaryLayout(int[] strings, int term, int numbers, int blobLength, int type) {
    static BinaryLayout of(byte[] b) {
      ByteBuffer buf = ByteBuffer.wrap(b);
      int[] strings = new int[3];
      int pos = 3;
      for (int i = 0; i < 3; i++) {
        strings[i] = pos;
        pos = pos + 2 <= b.length ? pos + 2 + (buf.getShort(pos) & 0xFFFF) : b.length;
      }
      int type = b.length > 2 ? b[2] : 0;
      int numbers = pos + 8;
      int blobLength = type == 1 ? numbers + 32 : -1;
      return new BinaryLayout(strings, pos, numbers, blobLength, type);
    }
  }

  private static byte[] mutateBinaryOnce(byte[] valid, Random r, int limit) {
    BinaryLayout at = BinaryLayout.of(valid);
    byte[] b = valid.clone();
    ByteBuffer buf = ByteBuffer.wrap(b);
    switch (r.nextInt(12)) {
      case 0 -> {
        if (b.length > 2) {
          int which = r.nextInt(3);
          b[which] = switch (which) {
            case 0 -> (byte) (r.nextBoolean() ? '{' : 0xB0);
            case 1 -> (byte) (r.nextBoolean() ? 0 : 2);
            default -> (byte) List.of(0, 2, 1, 3, 255).get(r.nextInt(5)).intValue(); // 1<->2
          };
        }
      }
      case 1 -> { // a string's length off
        int s = at.strings()[r.nextInt(3)];
        if (s + 2 <= b.length) {
          int len = buf.getShort(s) & 0xFFFF;
          buf.putShort(s, (short) List.of(len + 1, len - 1, 0, 0xFFFF, 4 * RaftWire.MAX_ID_LENGTH
              + 1).get(r.nextInt(5)).intValue());
        }
      }
      case 2 -> { // a string's bytes: bad UTF-8, whitespace, control, another cluster
        int s = at.strings()[r.nextInt(3)];
        if (s + 2 < b.length && (buf.getShort(s) & 0xFFFF) > 0) {
          int len = buf.getShort(s) & 0xFFFF;
          int pos = s + 2 + r.nextInt(Math.min(len, b.length - s - 2));
          b[pos] = (byte) List.of(0xC3, 0xFF, 0x80, 0xED, 0x0A, 0x20, 0x00, 0x7F, (int) 'Z')
              .get(r.nextInt(9)).intValue();
        }
      }
      case 3 -> { // a number negative or off by one
        int count = at.type() == 1 ? 5 : 6;
        int pos = r.nextInt(count) == 0 ? at.term() : at.numbers() + (at.type() == 1
            ? 8 * r.nextInt(4) : 1 + 8 * r.nextInt(5));
        if (pos + 8 <= b.length) {
          long v = buf.getLong(pos);
          buf.putLong(pos, switch (r.nextInt(4)) {
            case 0 -> v | Long.MIN_VALUE;
            case 1 -> v + 1;
            case 2 -> v - 1;
            default -> Long.MAX_VALUE;
          });
        }
      }
      case 4 -> { // the success byte of a response
        if (at.type() == 2 && at.numbers() < b.length) {
          b[at.numbers()] = (byte) (2 + r.nextInt(254));
        }
      }
      case 5, 6 -> { // the entries blob's length, or its content
        int lp = at.blobLength();
        if (lp >= 0 && lp + 4 <= b.length) {
          int length = buf.getInt(lp);
          if (r.nextBoolean()) {
            buf.putInt(lp, List.of(-1, length + 1, length - 1, Integer.MAX_VALUE, limit + 1,
                b.length - lp - 4 + 1).get(r.nextInt(6)));
          } else if (length >= 0 && (long) lp + 4 + length <= b.length) { // no overflow
            long term = at.term() + 8 <= b.length ? buf.getLong(at.term()) : 0;
            byte[] blob = Arrays.copyOfRange(b, lp + 4, lp + 4 + length);
            byte[] mutated = r.nextInt(4) == 0 ? mutateBytes(blob, r)
                : mutateEntries(blob, r, term);
            ByteBuffer out = ByteBuffer.allocate(lp + 4 + mutated.length
                + (b.length - lp - 4 - length));
            out.put(b, 0, lp).putInt(mutated.length).put(mutated)
                .put(b, lp + 4 + length, b.length - lp - 4 - length);
            return out.array();
          }
        }
      }
      case 7 -> { // a well-formed blob of one entry, its total size around the limit
        int lp = at.blobLength();
        if (lp >= 0 && lp <= b.length && limit <= (1 << 20)) {
          int size = limit - 3 + r.nextInt(7);
          int data = Math.max(0, size - 4 - RaftWire.ENTRY_HEADER_BYTES);
          long prevLogIndex = at.numbers() + 8 <= b.length ? buf.getLong(at.numbers()) : 0;
          long prevLogTerm = at.numbers() + 16 <= b.length ? buf.getLong(at.numbers() + 8) : 0;
          ByteBuffer out = ByteBuffer.allocate(lp + 4 + 4 + RaftWire.ENTRY_HEADER_BYTES + data);
          out.put(b, 0, lp).putInt(4 + RaftWire.ENTRY_HEADER_BYTES + data).putInt(1)
              .putLong(prevLogIndex + 1).putLong(prevLogTerm)
              .put((byte) EntryType.COMMAND.ordinal()).putLong(0).putLong(0).putLong(0)
              .putInt(data);
          return out.array();
        }
      }
      case 8 -> {
        return Arrays.copyOf(b, b.length == 0 ? 0 : r.nextInt(b.length)); // truncated
      }
      case 9 -> {
        return Arrays.copyOf(b, b.length + 1 + r.nextInt(4)); // trailing bytes
      }
      default -> {
        return mutateBytes(b, r);
      }
    }
    return b;
  }

  // ------------------------------------------------------------------------------------------
  // Mutations of the JSON text
  // ------------------------------------------------------------------------------------------

  /**
   * Mutates a message's JSON text: number literals no Java long holds, duplicate keys, escapes,
   * deep nesting, deleted or inserted characters. The result may not be JSON at all.
   *
   * @param text the JSON text of a valid message
   * @param r the source of randomness
   * @return the mutated text
   */
  public static String mutateText(String text, Random r) {
    int at = r.nextInt(text.length() + 1);
    return switch (r.nextInt(9)) {
      case 0 -> text.replaceFirst("\"term\":\\d+", "\"term\":" + List.of(
          "99999999999999999999999", "1e400", "-0", "1.0", "9223372036854775808",
          "-9223372036854775809", "1E2").get(r.nextInt(7)));
      case 1 -> "{\"term\":1," + text.substring(1); // a duplicate key: the later one wins
      case 2 -> text.replace("\"to\":\"", "\"to\":\"\\u0000"); // an escaped NUL
      case 3 -> text.replaceFirst("\"from\":\"[^\"]*\"", "\"from\":" + "[".repeat(2_000)
          + "]".repeat(2_000));
      case 4 -> text.substring(0, at) + text.substring(Math.min(text.length(), at + 1));
      case 5 -> text.substring(0, at) + "\"\\ud800\"" + text.substring(at);
      case 6 -> text.substring(0, at);
      case 7 -> text.replace("\"", "'");
      default -> text.replace("\"type\":\"V", "\"type\":\"\\u0056"); // V, escaped
    };
  }

  /** @return valid messages of every type, for callers that want the fixed samples too */
  public static List<Message> samples() {
    return SAMPLES;
  }

  /**
   * @param json a message's JSON form
   * @return its fields with long values shortened, for a failure message
   */
  static Map<String, Object> describe(JsonObject json) {
    Map<String, Object> m = new TreeMap<>();
    for (String f : json.fieldNames()) {
      Object v = json.getValue(f);
      String s = String.valueOf(v);
      m.put(f, s.length() > 120 ? s.substring(0, 120) + "...(" + s.length() + " chars)" : s);
    }
    return m;
  }
}
