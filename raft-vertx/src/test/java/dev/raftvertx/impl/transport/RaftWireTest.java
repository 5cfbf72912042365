package dev.raftvertx.impl.transport;

import static dev.raftvertx.impl.transport.TransportTestSupport.assertSameMessage;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.raftvertx.core.EntryType;
import dev.raftvertx.core.LogEntry;
import dev.raftvertx.core.Message;
import dev.raftvertx.core.Message.AppendEntriesRequest;
import dev.raftvertx.core.Message.AppendEntriesResponse;
import dev.raftvertx.core.Message.VoteRequest;
import dev.raftvertx.core.Message.VoteResponse;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Random;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class RaftWireTest {

  private final RaftWire wire = new RaftWire("c1");

  static List<Message> samples() {
    byte[] big = new byte[100_000];
    new Random(7).nextBytes(big);
    List<LogEntry> entries = List.of(
        new LogEntry(1, 0, EntryType.CONFIG, 0, 0, 0, "voters=a,b,c".getBytes(StandardCharsets.UTF_8)),
        new LogEntry(2, 5, EntryType.NOOP, 0, 0, 0, null),
        new LogEntry(3, 5, EntryType.SESSION_OPEN, 0, 0, 1_700_000_000_000L, new byte[0]),
        new LogEntry(4, 5, EntryType.COMMAND, 3, 1, 1_700_000_000_001L, "put x 1".getBytes(StandardCharsets.UTF_8)),
        new LogEntry(5, 6, EntryType.COMMAND, 3, Long.MAX_VALUE, Long.MAX_VALUE, big));
    return List.of(
        new VoteRequest(3, "a", "b", 10, 2, false, false),
        new VoteRequest(4, "node.1.example", "nœud-2", 0, 0, true, true),
        new VoteResponse(3, "b", "a", true, false),
        new VoteResponse(0, "b", "a", false, true),
        new AppendEntriesRequest(5, "a", "b", 7, 4, List.of(), 6, 12),
        new AppendEntriesRequest(6, "a", "b", 0, 0, entries, 3, 1),
        new AppendEntriesRequest(Long.MAX_VALUE, "a", "b", 41, 9, List.of(
            new LogEntry(42, 9, EntryType.COMMAND, 0, 0, 0, new byte[] {0, -1, 127})),
            Long.MAX_VALUE, Long.MAX_VALUE),
        new AppendEntriesResponse(5, "b", "a", true, 12, 0, 0, 0, 7),
        new AppendEntriesResponse(5, "b", "a", false, 0, 12, 3, 9, 8),
        new Message.ProposeRequest(5, "b", "a", 17, EntryType.COMMAND, 3, 9,
            "put x 1".getBytes(StandardCharsets.UTF_8)),
        new Message.ProposeRequest(5, "b", "a", 18, EntryType.SESSION_OPEN, 0, 0, new byte[0]),
        new Message.ProposeResponse(5, "a", "b", 17, dev.raftvertx.core.ProposeResult.Status.APPENDED,
            44, 5, "a"),
        new Message.ProposeResponse(5, "c", "b", 18,
            dev.raftvertx.core.ProposeResult.Status.NOT_LEADER, 0, 0, null),
        new Message.ReadIndexRequest(5, "b", "a", 99),
        new Message.TimeoutNow(7, "a", "b"),
        new Message.ReadIndexResponse(5, "a", "b", 99, true, 44),
        new Message.ReadIndexResponse(5, "a", "b", 100, false, 0),
        new Message.SnapshotChunk(5, "a", "b", 120, 4,
            dev.raftvertx.core.Configuration.of(java.util.Set.of("a", "b", "c")),
            new byte[] {1, 2, 3}, 5_000, 0xCAFEBABE, 0, new byte[] {9, 8, 7}),
        new Message.SnapshotChunk(5, "a", "b", 120, 4, null, null, 5_000, -1, 4_000,
            new byte[1_000]),
        new Message.SnapshotChunkResponse(5, "b", "a", 120, true, 4_000, false),
        new Message.SnapshotChunkResponse(6, "b", "a", 120, false, 0, true));
  }

  @ParameterizedTest
  @MethodSource("samples")
  void appendEntriesRoundTripInBinaryForm(Message message) {
    if (!RaftWire.supportsBinary(message)) {
      assertThrows(IllegalArgumentException.class, () -> wire.encodeBinary(message));
      return;
    }
    io.vertx.core.buffer.Buffer bytes = wire.encodeBinary(message);
    assertEquals(RaftWire.BINARY_MAGIC, bytes.getByte(0));
    assertSameMessage(message, wire.decodeBinary(bytes));
  }

  /**
   * Every truncation and, for a seeded sample of positions, every corruption of a binary
   * message is refused with a WireFormatException or decodes to a message that encodes back to
   * the same bytes (a changed number that is still valid); nothing else escapes.
   */
  @Test
  void binaryFormTrustsNothing() {
    long seed = Long.getLong("raft.wire.seed", System.nanoTime());
    System.out.println("binaryFormTrustsNothing seed " + seed + " (-Draft.wire.seed=" + seed
        + " replays it)");
    Random random = new Random(seed);
    for (Message m : samples()) {
      if (!RaftWire.supportsBinary(m)) {
        continue;
      }
      byte[] valid = wire.encodeBinary(m).getBytes();
      for (int cut = 0; cut < valid.length; cut++) {
        int n = cut;
        assertThrows(WireFormatException.class, () -> wire.decodeBinary(
            io.vertx.core.buffer.Buffer.buffer(java.util.Arrays.copyOf(valid, n))), "cut " + n);
      }
      for (int i = 0; i < 2_000; i++) {
        byte[] bad = valid.clone();
        int flips = 1 + random.nextInt(3);
        for (int f = 0; f < flips; f++) {
          bad[random.nextInt(Math.min(bad.length, 200))] ^= (byte) (1 + random.nextInt(255));
        }
        try {
          Message decoded = wire.decodeBinary(io.vertx.core.buffer.Buffer.buffer(bad));
          assertArrayEquals(bad, wire.encodeBinary(decoded).getBytes());
        } catch (WireFormatException expected) {
          // refused
        }
      }
    }
    byte[] valid = wire.encodeBinary(samples().get(5)).getBytes();
    byte[] trailing = java.util.Arrays.copyOf(valid, valid.length + 1);
    assertThrows(WireFormatException.class,
        () -> wire.decodeBinary(io.vertx.core.buffer.Buffer.buffer(trailing)));
    assertThrows(WireFormatException.class, () -> new RaftWire("other").decodeBinary(
        io.vertx.core.buffer.Buffer.buffer(valid)));
  }

  @Test
  void snapshotChunksThatDoNotFitTheirSnapshotAreRefused() {
    JsonObject json = wire.encode(new Message.SnapshotChunk(5, "a", "b", 120, 4, null, null,
        5_000, 7, 4_500, new byte[100]));
    assertThrows(WireFormatException.class, () -> wire.decode(json.copy().put("offset", 4_950)));
    assertThrows(WireFormatException.class, () -> wire.decode(json.copy().put("size", 10)));
    assertThrows(WireFormatException.class, () -> wire.decode(json.copy().put("index", 0)));
    assertThrows(WireFormatException.class,
        () -> wire.decode(json.copy().put("checksum", 1L << 32)));
    assertThrows(WireFormatException.class, () -> wire.decode(json.copy().put("meta", true)
        .put("configuration", "AAEC").put("sessions", "")));
  }

  @ParameterizedTest
  @MethodSource("samples")
  void roundTripsEveryMessageThroughJsonText(Message message) {
    JsonObject json = wire.encode(message);
    assertSameMessage(message, wire.decode(json));
    assertSameMessage(message, wire.decode(new JsonObject(json.encode())));
  }

  @Test
  void everyMessageTypeHasAWireFormAndASample() {
    for (Class<?> type : Message.class.getPermittedSubclasses()) {
      if (type == Message.InstallSnapshot.class) {
        // between cores only: its data travels as SnapshotChunks, and the follower's driver
        // steps it into its core once the snapshot is durable
        assertFalse(RaftWire.supports(Message.InstallSnapshot.class));
        continue;
      }
      assertTrue(RaftWire.supports(type.asSubclass(Message.class)), type + " has no wire form");
      assertTrue(samples().stream().anyMatch(type::isInstance), type + " has no sample");
    }
  }

  @Test
  void writesTheHeaderFieldsAndEntriesAsOneBase64String() {
    AppendEntriesRequest m = (AppendEntriesRequest) samples().get(5);
    JsonObject json = wire.encode(m);
    assertEquals(1, json.getInteger("v"));
    assertEquals("c1", json.getString("cluster"));
    assertEquals("AppendEntriesRequest", json.getString("type"));
    assertEquals("a", json.getString("from"));
    assertEquals("b", json.getString("to"));
    assertEquals(6L, json.getLong("term"));
    byte[] blob = Base64.getDecoder().decode(json.getString("entries"));
    assertEquals(RaftWire.packEntries(m.entries()).length, blob.length);
    assertEquals(m.entries().size(), ByteBuffer.wrap(blob).getInt());
  }

  @Test
  void anEmptyAppendCarriesAFourByteBlob() {
    JsonObject json = wire.encode(samples().get(4));
    assertEquals("AAAAAA==", json.getString("entries"));
  }

  // ------------------------------------------------------------------------------------------
  // Refusals: header
  // ------------------------------------------------------------------------------------------

  @Test
  void refusesNoBody() {
    assertRefused(null, "no message body");
  }

  @Test
  void refusesOtherVersions() {
    assertRefused(voteJson(j -> j.put("v", 2)), "version '2'");
    assertRefused(voteJson(j -> j.put("v", "1")), "version");
    assertRefused(voteJson(j -> j.put("v", 1.0)), "version");
    assertRefused(voteJson(j -> j.remove("v")), "missing field 'v'");
  }

  @Test
  void refusesOtherClusters() {
    JsonObject other = new RaftWire("c2").encode(samples().get(0));
    WireFormatException e = assertThrows(WireFormatException.class, () -> wire.decode(other));
    assertTrue(e.getMessage().contains("cluster 'c2'"), e.getMessage());
  }

  @Test
  void refusesUnknownTypes() {
    assertRefused(voteJson(j -> j.put("type", "InstallSnapshot")), "unknown message type");
    assertRefused(voteJson(j -> j.put("type", 3)), "'type' must be a string");
  }

  @Test
  void refusesBadNodeIds() {
    assertRefused(voteJson(j -> j.put("from", "")), "field 'from'");
    assertRefused(voteJson(j -> j.put("to", "b c")), "field 'to'");
    assertRefused(voteJson(j -> j.put("to", "x".repeat(256))), "field 'to'");
    assertRefused(voteJson(j -> j.put("from", new JsonObject())), "'from' must be a string");
  }

  static Stream<Arguments> everyFieldOfEverySample() {
    List<Arguments> args = new ArrayList<>();
    RaftWire w = new RaftWire("c1");
    for (Message m : samples()) {
      for (String field : w.encode(m).fieldNames()) {
        args.add(Arguments.of(m, field));
      }
    }
    return args.stream();
  }

  /** Required fields only: a ProposeResponse's leaderHint may be absent (no leader known). */
  static Stream<Arguments> everyRequiredFieldOfEverySample() {
    return everyFieldOfEverySample().filter(a -> !"leaderHint".equals(a.get()[1]));
  }

  @Test
  void acceptsAProposeResponseWithoutLeaderHint() {
    Message m = new Message.ProposeResponse(5, "c", "b", 18,
        dev.raftvertx.core.ProposeResult.Status.NOT_LEADER, 0, 0, "a");
    JsonObject json = wire.encode(m);
    json.remove("leaderHint");
    assertEquals(null, ((Message.ProposeResponse) wire.decode(json)).leaderHint());
  }

  @ParameterizedTest
  @MethodSource("everyRequiredFieldOfEverySample")
  void refusesAMissingOrNullField(Message message, String field) {
    JsonObject missing = wire.encode(message);
    missing.remove(field);
    assertRefused(missing, "'" + field + "'");
    JsonObject nulled = wire.encode(message);
    nulled.putNull(field);
    assertRefused(nulled, "'" + field + "'");
  }

  @ParameterizedTest
  @MethodSource("everyFieldOfEverySample")
  void refusesAFieldOfTheWrongJsonType(Message message, String field) {
    JsonObject json = wire.encode(message);
    Object value = json.getValue(field);
    Object wrong = value instanceof String ? (Object) 12 : (Object) new JsonArray().add(value);
    json.put(field, wrong);
    assertThrows(WireFormatException.class, () -> wire.decode(json));
    json.put(field, new JsonObject());
    assertThrows(WireFormatException.class, () -> wire.decode(json));
  }

  @Test
  void refusesNonIntegralAndOutOfRangeNumbers() {
    assertRefused(voteJson(j -> j.put("term", "5")), "'term' must be an integer");
    assertRefused(voteJson(j -> j.put("term", 1.5)), "'term' must be an integer");
    assertRefused(voteJson(j -> j.put("lastLogIndex", true)), "'lastLogIndex' must be an integer");
    String huge = voteJson(j -> { }).encode().replace("\"term\":3", "\"term\":99999999999999999999");
    assertRefused(new JsonObject(huge), "'term' out of range");
    assertRefused(voteJson(j -> j.put("preVote", "true")), "'preVote' must be a boolean");
    assertRefused(voteJson(j -> j.put("transfer", 1)), "'transfer' must be a boolean");
  }

  @Test
  void refusesNegativeNumbers() {
    assertRefused(voteJson(j -> j.put("term", -1)), "'term' must not be negative");
    assertRefused(voteJson(j -> j.put("lastLogIndex", -1)), "'lastLogIndex' must not be negative");
    assertRefused(appendJson(j -> j.put("prevLogIndex", -1)), "'prevLogIndex' must not be negative");
    assertRefused(appendJson(j -> j.put("prevLogTerm", -2)), "'prevLogTerm' must not be negative");
    JsonObject response = wire.encode(samples().get(7)).put("matchIndex", Long.MIN_VALUE);
    assertRefused(response, "'matchIndex' must not be negative");
  }

  // ------------------------------------------------------------------------------------------
  // Refusals: entries blob
  // ------------------------------------------------------------------------------------------

  @Test
  void refusesGarbageBase64() {
    assertRefused(appendJson(j -> j.put("entries", "!!not base64!!")), "not valid base64");
    assertRefused(appendJson(j -> j.put("entries", "AAAAA")), "not valid base64");
  }

  @Test
  void refusesTruncatedBlobs() {
    AppendEntriesRequest m = (AppendEntriesRequest) samples().get(5);
    byte[] blob = RaftWire.packEntries(m.entries());
    for (int cut : new int[] {0, 2, 4, 10, blob.length / 2, blob.length - 1}) {
      byte[] truncated = java.util.Arrays.copyOf(blob, cut);
      JsonObject json = wire.encode(m).put("entries", Base64.getEncoder().encodeToString(truncated));
      assertThrows(WireFormatException.class, () -> wire.decode(json), "cut at " + cut);
    }
    assertRefused(blobJson(0, 0, new byte[] {0, 0}), "no count");
    assertRefused(blobJson(0, 0, count(1)), "count 1 impossible");
  }

  @Test
  void refusesTrailingBytes() {
    byte[] blob = concat(count(1), entry(1, 0, 0, 0, 0, 0, 1, new byte[] {9}), new byte[] {7});
    assertRefused(blobJson(0, 0, blob), "trailing");
  }

  @Test
  void refusesEntriesOutOfOrderOrWithGaps() {
    List<LogEntry> reversed = List.of(new LogEntry(2, 1, EntryType.NOOP, 0, 0, 0, null),
        new LogEntry(1, 1, EntryType.NOOP, 0, 0, 0, null));
    assertRefused(blobJson(0, 0, RaftWire.packEntries(reversed)), "contiguous");
    List<LogEntry> gap = List.of(new LogEntry(1, 1, EntryType.NOOP, 0, 0, 0, null),
        new LogEntry(3, 1, EntryType.NOOP, 0, 0, 0, null));
    assertRefused(blobJson(0, 0, RaftWire.packEntries(gap)), "contiguous");
    List<LogEntry> notAfterPrev = List.of(new LogEntry(7, 1, EntryType.NOOP, 0, 0, 0, null));
    assertRefused(blobJson(5, 0, RaftWire.packEntries(notAfterPrev)), "expected 6");
    byte[] zero = concat(count(1), entry(0, 0, 0, 0, 0, 0, 0, new byte[0]));
    assertRefused(blobJson(0, 0, zero), "expected 1");
  }

  @Test
  void refusesImpossibleEntryTerms() {
    List<LogEntry> decreasing = List.of(new LogEntry(1, 3, EntryType.NOOP, 0, 0, 0, null),
        new LogEntry(2, 2, EntryType.NOOP, 0, 0, 0, null));
    assertRefused(blobJson(0, 0, RaftWire.packEntries(decreasing)), "term 2");
    List<LogEntry> future = List.of(new LogEntry(1, 99, EntryType.NOOP, 0, 0, 0, null));
    assertRefused(blobJson(0, 0, RaftWire.packEntries(future)), "term 99");
    List<LogEntry> belowPrev = List.of(new LogEntry(5, 1, EntryType.NOOP, 0, 0, 0, null));
    assertRefused(blobJson(4, 2, RaftWire.packEntries(belowPrev)), "term 1");
    byte[] negative = concat(count(1), entry(1, -1, 0, 0, 0, 0, 0, new byte[0]));
    assertRefused(blobJson(0, 0, negative), "term -1");
  }

  @Test
  void refusesUnknownEntryTypesAndNegativeSessionFields() {
    assertRefused(blobJson(0, 0, concat(count(1), entry(1, 0, 200, 0, 0, 0, 0, new byte[0]))),
        "unknown type 200");
    assertRefused(blobJson(0, 0, concat(count(1), entry(1, 0, 0, -1, 0, 0, 0, new byte[0]))),
        "negative session");
    assertRefused(blobJson(0, 0, concat(count(1), entry(1, 0, 0, 0, -1, 0, 0, new byte[0]))),
        "negative session");
    assertRefused(blobJson(0, 0, concat(count(1), entry(1, 0, 0, 0, 0, -1, 0, new byte[0]))),
        "negative session");
  }

  @Test
  void refusesAbsurdLengthsWithoutAllocating() {
    assertRefused(blobJson(0, 0, concat(count(1),
        entry(1, 0, 0, 0, 0, 0, Integer.MAX_VALUE, new byte[0]))), "claims 2147483647 bytes");
    assertRefused(blobJson(0, 0, concat(count(1), entry(1, 0, 0, 0, 0, 0, -5, new byte[0]))),
        "claims -5 bytes");
    assertRefused(blobJson(0, 0, count(Integer.MAX_VALUE)), "count 2147483647 impossible");
    assertRefused(blobJson(0, 0, count(-1)), "count -1 impossible");
  }

  @Test
  void refusesBlobsOverTheSizeLimitBeforeDecodingThem() {
    RaftWire small = new RaftWire("c1", 1024);
    LogEntry fat = new LogEntry(1, 1, EntryType.COMMAND, 0, 0, 0, new byte[2000]);
    JsonObject json = wire.encode(new AppendEntriesRequest(1, "a", "b", 0, 0, List.of(fat), 0, 0));
    WireFormatException e = assertThrows(WireFormatException.class, () -> small.decode(json));
    assertTrue(e.getMessage().contains("exceed the limit of 1024"), e.getMessage());
    IllegalArgumentException tooBig = assertThrows(IllegalArgumentException.class,
        () -> small.encode(new AppendEntriesRequest(1, "a", "b", 0, 0, List.of(fat), 0, 0)));
    assertTrue(tooBig.getMessage().contains("exceeds the limit"), tooBig.getMessage());
  }

  /**
   * Found by RaftWireFuzzTest: unpadded base64 of up to limit + 2 bytes passed the text-length
   * bound, so decode accepted a message that encode then refused.
   */
  @Test
  void refusesBinaryFieldsThatDecodeToJustOverTheLimit() {
    RaftWire small = new RaftWire("c1", 1024);
    for (int size = 1022; size <= 1026; size++) {
      byte[] data = new byte[size];
      String text = Base64.getEncoder().withoutPadding().encodeToString(data);
      JsonObject propose = wire.encode(new Message.ProposeRequest(5, "b", "a", 17,
          EntryType.COMMAND, 0, 0, new byte[0])).put("data", text);
      byte[] blob = RaftWire.packEntries(List.of(new LogEntry(1, 1, EntryType.COMMAND, 0, 0, 0,
          new byte[size - 4 - RaftWire.ENTRY_HEADER_BYTES])));
      JsonObject append = blobJson(0, 0, blob)
          .put("entries", Base64.getEncoder().withoutPadding().encodeToString(blob));
      for (JsonObject json : List.of(propose, append)) {
        if (size <= 1024) {
          small.encode(small.decode(json)); // accepted, and encodes again
        } else {
          WireFormatException e = assertThrows(WireFormatException.class,
              () -> small.decode(json), "size " + size);
          assertTrue(e.getMessage().contains("exceed the limit of 1024"), e.getMessage());
        }
      }
    }
  }

  // ------------------------------------------------------------------------------------------
  // Ids and addresses
  // ------------------------------------------------------------------------------------------

  @Test
  void validatesIdsAndBuildsAddresses() {
    assertEquals("raft.c1.node.1.rpc", RaftWire.rpcAddress("c1", "node.1"));
    assertThrows(IllegalArgumentException.class, () -> new RaftWire("a.b"));
    assertThrows(IllegalArgumentException.class, () -> new RaftWire(""));
    assertThrows(IllegalArgumentException.class, () -> new RaftWire(null));
    assertThrows(IllegalArgumentException.class, () -> RaftWire.checkNodeId("a\nb"));
    assertThrows(IllegalArgumentException.class,
        () -> wire.encode(new VoteResponse(1, "a b", "c", true, false)));
  }

  // ------------------------------------------------------------------------------------------
  // Helpers
  // ------------------------------------------------------------------------------------------

  private void assertRefused(JsonObject json, String expected) {
    WireFormatException e = assertThrows(WireFormatException.class, () -> wire.decode(json));
    assertInstanceOf(IllegalArgumentException.class, e);
    assertTrue(e.getMessage().contains(expected),
        "expected '" + expected + "' in: " + e.getMessage());
  }

  private JsonObject voteJson(Consumer<JsonObject> change) {
    JsonObject json = wire.encode(samples().get(0));
    change.accept(json);
    return json;
  }

  private JsonObject appendJson(Consumer<JsonObject> change) {
    JsonObject json = wire.encode(samples().get(5));
    change.accept(json);
    return json;
  }

  /** An AppendEntriesRequest of term 10 with this prev position and a hand-made blob. */
  private JsonObject blobJson(long prevLogIndex, long prevLogTerm, byte[] blob) {
    JsonObject json = wire.encode(new AppendEntriesRequest(10, "a", "b", prevLogIndex,
        prevLogTerm, List.of(), 0, 0));
    return json.put("entries", Base64.getEncoder().encodeToString(blob));
  }

  private static byte[] count(int n) {
    return ByteBuffer.allocate(4).putInt(n).array();
  }

  private static byte[] entry(long index, long term, int type, long session, long sequence,
      long timestamp, int length, byte[] data) {
    return ByteBuffer.allocate(RaftWire.ENTRY_HEADER_BYTES + data.length)
        .putLong(index).putLong(term).put((byte) type).putLong(session).putLong(sequence)
        .putLong(timestamp).putInt(length).put(data).array();
  }

  private static byte[] concat(byte[]... parts) {
    int size = 0;
    for (byte[] p : parts) {
      size += p.length;
    }
    ByteBuffer buf = ByteBuffer.allocate(size);
    for (byte[] p : parts) {
      buf.put(p);
    }
    return buf.array();
  }
}
