package dev.raftvertx.impl.transport;

import dev.raftvertx.core.Configuration;
import dev.raftvertx.core.EntryType;
import dev.raftvertx.core.LogEntry;
import dev.raftvertx.core.Message;
import dev.raftvertx.core.Message.AppendEntriesRequest;
import dev.raftvertx.core.Message.AppendEntriesResponse;
import dev.raftvertx.core.Message.VoteRequest;
import dev.raftvertx.core.Message.VoteResponse;
import dev.raftvertx.core.Message.ProposeRequest;
import dev.raftvertx.core.Message.ProposeResponse;
import dev.raftvertx.core.Message.ReadIndexRequest;
import dev.raftvertx.core.Message.ReadIndexResponse;
import dev.raftvertx.core.ProposeResult;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The wire format of Raft RPCs: the one place that maps a {@link Message} to and from a
 * {@link JsonObject}. Immutable and thread-safe; one instance per cluster id.
 *
 * <p><b>Format, version 1.</b> Every message is a JSON object with these fields:
 * <pre>
 * v        integer, the wire format version: 1
 * cluster  string, the cluster id; a message from another cluster is refused
 * type     string, the message type ("VoteRequest", "VoteResponse", "AppendEntriesRequest",
 *          "AppendEntriesResponse", "TimeoutNow", "ProposeRequest", "ProposeResponse",
 *          "ReadIndexRequest", "ReadIndexResponse", "SnapshotChunk", "SnapshotChunkResponse")
 * from     string, the sender's node id
 * to       string, the receiver's node id
 * term     integer &gt;= 0, the sender's term
 * ...      the type's own fields, named as the record components of {@link Message}'s records:
 *          integers (all &gt;= 0) and booleans
 * </pre>
 * The entries of an {@code AppendEntriesRequest} are one base64 (RFC 4648, padded) string, field
 * {@code entries}, holding a big-endian binary blob:
 * <pre>
 * int32 count
 * count times:
 *   int64 index, int64 term, uint8 type (ordinal of {@link EntryType}),
 *   int64 session, int64 sequence, int64 timestamp, int32 length, length bytes of data
 * </pre>
 *
 * <p>{@link #decode} trusts nothing: it validates every field's presence and JSON type, refuses
 * negative numbers, other versions and clusters, and checks that the entries are contiguous from
 * {@code prevLogIndex + 1}, have known types, terms that never decrease (from
 * {@code prevLogTerm}) nor exceed the message's term, and lengths that fit the blob, which itself
 * must not exceed a size limit. Every violation throws {@link WireFormatException}.
 *
 * <p><b>Adding a message type</b> is one {@code register(...)} call in the static initializer
 * with a writer and a reader of the type's own fields.
 */
public final class RaftWire {

  /** The wire format version this code writes and accepts. */
  public static final int VERSION = 1;

  /** Default limit on the decoded entries blob of one AppendEntriesRequest: 64 MiB. */
  public static final int DEFAULT_MAX_ENTRIES_BYTES = 64 << 20;

  /** Longest node id or cluster id accepted. */
  public static final int MAX_ID_LENGTH = 255;

  /** Bytes of one entry in the blob before its data. */
  static final int ENTRY_HEADER_BYTES = 8 + 8 + 1 + 8 + 8 + 8 + 4;

  private static final Pattern CLUSTER_ID = Pattern.compile("[A-Za-z0-9_-]+");

  private static final Map<String, Kind<?>> BY_NAME = new HashMap<>();
  private static final Map<Class<?>, Kind<?>> BY_CLASS = new HashMap<>();

  static {
    register("VoteRequest", VoteRequest.class,
        (m, out) -> out.put("lastLogIndex", m.lastLogIndex()).put("lastLogTerm", m.lastLogTerm())
            .put("preVote", m.preVote()).put("transfer", m.transfer()),
        (h, in) -> new VoteRequest(h.term(), h.from(), h.to(), in.number("lastLogIndex"),
            in.number("lastLogTerm"), in.bool("preVote"), in.bool("transfer")));
    register("VoteResponse", VoteResponse.class,
        (m, out) -> out.put("voteGranted", m.voteGranted()).put("preVote", m.preVote()),
        (h, in) -> new VoteResponse(h.term(), h.from(), h.to(), in.bool("voteGranted"),
            in.bool("preVote")));
    register("AppendEntriesRequest", AppendEntriesRequest.class,
        (m, out) -> out.put("prevLogIndex", m.prevLogIndex()).put("prevLogTerm", m.prevLogTerm())
            .putEntries("entries", m.entries()).put("leaderCommit", m.leaderCommit())
            .put("round", m.round()),
        (h, in) -> {
          long prevLogIndex = in.number("prevLogIndex");
          long prevLogTerm = in.number("prevLogTerm");
          List<LogEntry> entries = in.entries("entries", prevLogIndex, prevLogTerm, h.term());
          return new AppendEntriesRequest(h.term(), h.from(), h.to(), prevLogIndex, prevLogTerm,
              entries, in.number("leaderCommit"), in.number("round"));
        });
    register("TimeoutNow", Message.TimeoutNow.class, (m, out) -> { },
        (h, in) -> new Message.TimeoutNow(h.term(), h.from(), h.to()));
    register("AppendEntriesResponse", AppendEntriesResponse.class,
        (m, out) -> out.put("success", m.success()).put("matchIndex", m.matchIndex())
            .put("rejectedIndex", m.rejectedIndex()).put("conflictTerm", m.conflictTerm())
            .put("conflictIndex", m.conflictIndex()).put("round", m.round()),
        (h, in) -> new AppendEntriesResponse(h.term(), h.from(), h.to(), in.bool("success"),
            in.number("matchIndex"), in.number("rejectedIndex"), in.number("conflictTerm"),
            in.number("conflictIndex"), in.number("round")));
    register("ProposeRequest", ProposeRequest.class,
        (m, out) -> out.put("requestId", m.requestId()).put("entryType", m.type().name())
            .put("session", m.session()).put("sequence", m.sequence()).putBytes("data", m.data()),
        (h, in) -> new ProposeRequest(h.term(), h.from(), h.to(), in.number("requestId"),
            in.enumValue("entryType", EntryType.class), in.number("session"),
            in.number("sequence"), in.bytes("data")));
    register("ProposeResponse", ProposeResponse.class,
        (m, out) -> out.put("requestId", m.requestId()).put("status", m.status().name())
            .put("index", m.index()).put("entryTerm", m.entryTerm())
            .putOptional("leaderHint", m.leaderHint()),
        (h, in) -> new ProposeResponse(h.term(), h.from(), h.to(), in.number("requestId"),
            in.enumValue("status", ProposeResult.Status.class), in.number("index"),
            in.number("entryTerm"), in.optionalNodeId("leaderHint")));
    register("SnapshotChunk", Message.SnapshotChunk.class,
        (m, out) -> {
          out.put("index", m.index()).put("snapshotTerm", m.snapshotTerm())
              .put("meta", m.configuration() != null).put("size", m.size())
              .put("checksum", m.checksum() & 0xFFFF_FFFFL).put("offset", m.offset())
              .putBytes("data", m.data());
          if (m.configuration() != null) { // the first chunk carries the metadata
            out.putBytes("configuration", m.configuration().encode())
                .putBytes("sessions", m.sessions());
          }
        },
        (h, in) -> {
          long index = in.number("index");
          long size = in.number("size");
          long offset = in.number("offset");
          long checksum = in.number("checksum");
          byte[] data = in.bytes("data");
          if (index < 1 || checksum > 0xFFFF_FFFFL || offset > size
              || data.length > size - offset) {
            throw new WireFormatException("SnapshotChunk: index " + index + ", offset " + offset
                + " and " + data.length + " bytes do not fit a snapshot of " + size + " bytes");
          }
          boolean meta = in.bool("meta");
          Configuration configuration = null;
          byte[] sessions = null;
          if (meta) {
            try {
              configuration = Configuration.decode(in.bytes("configuration"));
            } catch (RuntimeException e) {
              throw new WireFormatException("SnapshotChunk: bad configuration: " + e.getMessage(),
                  e);
            }
            sessions = in.bytes("sessions");
          }
          return new Message.SnapshotChunk(h.term(), h.from(), h.to(), index,
              in.number("snapshotTerm"), configuration, sessions, size, (int) checksum, offset,
              data);
        });
    register("SnapshotChunkResponse", Message.SnapshotChunkResponse.class,
        (m, out) -> out.put("index", m.index()).put("ok", m.ok())
            .put("nextOffset", m.nextOffset()).put("done", m.done()),
        (h, in) -> new Message.SnapshotChunkResponse(h.term(), h.from(), h.to(),
            in.number("index"), in.bool("ok"), in.number("nextOffset"), in.bool("done")));
    register("ReadIndexRequest", ReadIndexRequest.class,
        (m, out) -> out.put("requestId", m.requestId()),
        (h, in) -> new ReadIndexRequest(h.term(), h.from(), h.to(), in.number("requestId")));
    register("ReadIndexResponse", ReadIndexResponse.class,
        (m, out) -> out.put("requestId", m.requestId()).put("ok", m.ok())
            .put("readIndex", m.readIndex()),
        (h, in) -> new ReadIndexResponse(h.term(), h.from(), h.to(), in.number("requestId"),
            in.bool("ok"), in.number("readIndex")));
  }

  private final String clusterId;
  /** The cluster id in UTF-8, written into every binary message. */
  private final byte[] clusterIdBytes;
  private final int maxEntriesBytes;

  /**
   * @param clusterId the cluster this node belongs to
   * @throws IllegalArgumentException if the cluster id is not valid ({@link #checkClusterId})
   */
  public RaftWire(String clusterId) {
    this(clusterId, DEFAULT_MAX_ENTRIES_BYTES);
  }

  /**
   * @param clusterId the cluster this node belongs to
   * @param maxEntriesBytes the largest entries blob accepted and produced, in decoded bytes
   * @throws IllegalArgumentException if the cluster id is not valid or the limit not positive
   */
  public RaftWire(String clusterId, int maxEntriesBytes) {
    this.clusterId = checkClusterId(clusterId);
    this.clusterIdBytes = clusterId.getBytes(StandardCharsets.UTF_8);
    if (maxEntriesBytes < 4) {
      throw new IllegalArgumentException("maxEntriesBytes must be >= 4: " + maxEntriesBytes);
    }
    this.maxEntriesBytes = maxEntriesBytes;
  }

  /** @return the cluster id written into and required from every message */
  public String clusterId() {
    return clusterId;
  }

  /**
   * @param clusterId a cluster id
   * @param nodeId a node id
   * @return the event-bus address on which that node receives Raft RPCs:
   *     {@code raft.<clusterId>.<nodeId>.rpc} (unambiguous: cluster ids contain no dot)
   */
  public static String rpcAddress(String clusterId, String nodeId) {
    return "raft." + clusterId + "." + nodeId + ".rpc";
  }

  /**
   * @param clusterId a cluster id
   * @return the cluster id, if it is 1 to {@value #MAX_ID_LENGTH} characters among
   *     {@code [A-Za-z0-9_-]}
   * @throws IllegalArgumentException otherwise
   */
  public static String checkClusterId(String clusterId) {
    if (clusterId == null || clusterId.length() > MAX_ID_LENGTH
        || !CLUSTER_ID.matcher(clusterId).matches()) {
      throw new IllegalArgumentException("invalid cluster id " + quote(clusterId)
          + ": 1 to " + MAX_ID_LENGTH + " characters among [A-Za-z0-9_-]");
    }
    return clusterId;
  }

  /**
   * @param nodeId a node id
   * @return the node id, if it is 1 to {@value #MAX_ID_LENGTH} characters with no whitespace nor
   *     control character
   * @throws IllegalArgumentException otherwise
   */
  public static String checkNodeId(String nodeId) {
    String problem = nodeIdProblem(nodeId);
    if (problem != null) {
      throw new IllegalArgumentException(problem);
    }
    return nodeId;
  }

  // ---------------------------------------------------------------------------------------------
  // Binary form of the hot messages
  // ---------------------------------------------------------------------------------------------

  /**
   * First byte of a message in binary form. A JSON form starts with {@code '{'}, so a frame's
   * first byte tells the two apart.
   */
  public static final byte BINARY_MAGIC = (byte) 0xB1;

  private static final byte BIN_APPEND_ENTRIES = 1;
  private static final byte BIN_APPEND_ENTRIES_RESPONSE = 2;

  /**
   * @param message a message
   * @return true if {@link #encodeBinary} carries it: AppendEntries and its response, nearly all
   *     of a busy cluster's traffic
   */
  public static boolean supportsBinary(Message message) {
    return message instanceof AppendEntriesRequest || message instanceof AppendEntriesResponse;
  }

  /**
   * Encodes AppendEntries or its response in binary form, big-endian:
   * <pre>
   * uint8 magic 0xB1, uint8 version 1, uint8 type (1 AppendEntriesRequest,
   * 2 AppendEntriesResponse), then cluster, from and to (each uint16 length + UTF-8), int64 term,
   * then for a request: int64 prevLogIndex, prevLogTerm, leaderCommit, round, int32 length of
   *   the entries blob (the JSON form's {@code entries}, decoded), the blob;
   * for a response: uint8 success (0 or 1), int64 matchIndex, rejectedIndex, conflictTerm,
   *   conflictIndex, round.
   * </pre>
   * {@link #decodeBinary} checks exactly what {@link #decode} checks for the JSON form.
   *
   * @param message a message {@link #supportsBinary} accepts
   * @return its binary form
   * @throws IllegalArgumentException if the message has no binary form, invalid node ids or
   *     entries beyond the size limit
   */
  public Buffer encodeBinary(Message message) {
    checkNodeId(message.from());
    checkNodeId(message.to());
    Buffer b;
    if (message instanceof AppendEntriesRequest m) {
      byte[] blob = packEntries(m.entries());
      if (blob.length > maxEntriesBytes) {
        throw new IllegalArgumentException("entries blob of " + blob.length
            + " bytes exceeds the limit of " + maxEntriesBytes);
      }
      b = header(BIN_APPEND_ENTRIES, message, 40 + blob.length);
      b.appendLong(m.prevLogIndex()).appendLong(m.prevLogTerm()).appendLong(m.leaderCommit())
          .appendLong(m.round()).appendInt(blob.length).appendBytes(blob);
    } else if (message instanceof AppendEntriesResponse m) {
      b = header(BIN_APPEND_ENTRIES_RESPONSE, message, 41);
      b.appendByte((byte) (m.success() ? 1 : 0)).appendLong(m.matchIndex())
          .appendLong(m.rejectedIndex()).appendLong(m.conflictTerm()).appendLong(m.conflictIndex())
          .appendLong(m.round());
    } else {
      throw new IllegalArgumentException("no binary form for " + message.getClass().getName());
    }
    return b;
  }

  private Buffer header(byte type, Message m, int bodyBytes) {
    byte[] cluster = clusterIdBytes;
    byte[] from = m.from().getBytes(StandardCharsets.UTF_8);
    byte[] to = m.to().getBytes(StandardCharsets.UTF_8);
    Buffer b = Buffer.buffer(3 + 6 + cluster.length + from.length + to.length + 8 + bodyBytes);
    b.appendByte(BINARY_MAGIC).appendByte((byte) VERSION).appendByte(type);
    b.appendUnsignedShort(cluster.length).appendBytes(cluster);
    b.appendUnsignedShort(from.length).appendBytes(from);
    b.appendUnsignedShort(to.length).appendBytes(to);
    return b.appendLong(m.term());
  }

  /**
   * Decodes a message in binary form ({@link #encodeBinary}), trusting nothing.
   *
   * @param frame the bytes, starting with {@link #BINARY_MAGIC}
   * @return the message
   * @throws WireFormatException if the bytes are not a valid message of this cluster
   */
  public Message decodeBinary(Buffer frame) {
    BinaryReader in = new BinaryReader(frame);
    if (in.u8() != (BINARY_MAGIC & 0xFF)) {
      throw new WireFormatException("not a binary message");
    }
    int version = in.u8();
    if (version != VERSION) {
      throw new WireFormatException("unsupported wire version " + version + " (expected "
          + VERSION + ")");
    }
    int type = in.u8();
    String cluster = in.string("cluster");
    if (!clusterId.equals(cluster)) {
      throw new WireFormatException("message for cluster " + quote(cluster) + ", not "
          + quote(clusterId));
    }
    String from = in.nodeId("from");
    String to = in.nodeId("to");
    long term = in.number("term");
    Message m;
    if (type == BIN_APPEND_ENTRIES) {
      long prevLogIndex = in.number("prevLogIndex");
      long prevLogTerm = in.number("prevLogTerm");
      long leaderCommit = in.number("leaderCommit");
      long round = in.number("round");
      int length = in.i32();
      if (length < 0 || length > maxEntriesBytes || length > in.remaining()) {
        throw new WireFormatException("entries: blob of " + length + " bytes (" + in.remaining()
            + " left, limit " + maxEntriesBytes + ")");
      }
      List<LogEntry> entries = unpackEntries(in.bytes(length), prevLogIndex, prevLogTerm, term);
      m = new AppendEntriesRequest(term, from, to, prevLogIndex, prevLogTerm, entries,
          leaderCommit, round);
    } else if (type == BIN_APPEND_ENTRIES_RESPONSE) {
      int success = in.u8();
      if (success > 1) {
        throw new WireFormatException("field 'success': " + success + " is not 0 or 1");
      }
      m = new AppendEntriesResponse(term, from, to, success == 1, in.number("matchIndex"),
          in.number("rejectedIndex"), in.number("conflictTerm"), in.number("conflictIndex"),
          in.number("round"));
    } else {
      throw new WireFormatException("unknown binary message type " + type);
    }
    if (in.remaining() != 0) {
      throw new WireFormatException(in.remaining() + " bytes after the message");
    }
    return m;
  }

  /** Bounds-checked big-endian reads; every problem is a {@link WireFormatException}. */
  private static final class BinaryReader {
    private final Buffer buf;
    private int pos;

    BinaryReader(Buffer buf) {
      this.buf = buf;
    }

    int remaining() {
      return buf.length() - pos;
    }

    private void need(int n, String what) {
      if (remaining() < n) {
        throw new WireFormatException("truncated message: " + what + " needs " + n
            + " bytes, " + remaining() + " left");
      }
    }

    int u8() {
      need(1, "a byte");
      return buf.getUnsignedByte(pos++);
    }

    int i32() {
      need(4, "an int32");
      int v = buf.getInt(pos);
      pos += 4;
      return v;
    }

    long number(String name) {
      need(8, "field '" + name + "'");
      long v = buf.getLong(pos);
      pos += 8;
      if (v < 0) {
        throw new WireFormatException("field '" + name + "': negative value " + v);
      }
      return v;
    }

    byte[] bytes(int n) {
      need(n, "a blob");
      byte[] b = buf.getBytes(pos, pos + n);
      pos += n;
      return b;
    }

    String string(String name) {
      need(2, "the length of '" + name + "'");
      int n = buf.getUnsignedShort(pos);
      pos += 2;
      if (n > 4 * MAX_ID_LENGTH) {
        throw new WireFormatException("field '" + name + "': " + n + " bytes is too long");
      }
      need(n, "field '" + name + "'");
      byte[] bytes = buf.getBytes(pos, pos + n);
      pos += n;
      try {
        return StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(java.nio.charset.CodingErrorAction.REPORT)
            .onUnmappableCharacter(java.nio.charset.CodingErrorAction.REPORT)
            .decode(ByteBuffer.wrap(bytes)).toString();
      } catch (java.nio.charset.CharacterCodingException e) {
        throw new WireFormatException("field '" + name + "' is not valid UTF-8", e);
      }
    }

    String nodeId(String name) {
      return nodeIdField(name, string(name));
    }
  }

  /**
   * @param type a message class
   * @return true if this wire format can carry it
   */
  public static boolean supports(Class<? extends Message> type) {
    return BY_CLASS.containsKey(type);
  }

  /**
   * Encodes a message.
   *
   * @param message the message
   * @return its JSON form, a new object the caller owns
   * @throws IllegalArgumentException if the message has no wire form, invalid node ids or
   *     entries beyond the size limit
   */
  public JsonObject encode(Message message) {
    Kind<?> kind = BY_CLASS.get(message.getClass());
    if (kind == null) {
      throw new IllegalArgumentException("no wire form for " + message.getClass().getName());
    }
    JsonObject json = new JsonObject()
        .put("v", VERSION)
        .put("cluster", clusterId)
        .put("type", kind.name)
        .put("from", checkNodeId(message.from()))
        .put("to", checkNodeId(message.to()))
        .put("term", message.term());
    kind.write(message, new Out(json, maxEntriesBytes));
    return json;
  }

  /**
   * Decodes and validates a message.
   *
   * @param json the JSON form, as received
   * @return the message
   * @throws WireFormatException if the JSON is not a valid message of this cluster and version
   */
  public Message decode(JsonObject json) {
    if (json == null) {
      throw new WireFormatException("no message body");
    }
    In in = new In(json, maxEntriesBytes);
    Object version = json.getValue("v");
    if (version == null) {
      throw new WireFormatException("missing field 'v' (wire format version)");
    }
    if (!(version instanceof Integer || version instanceof Long)
        || ((Number) version).longValue() != VERSION) {
      throw new WireFormatException("unsupported wire format version " + quote(version)
          + ", this node speaks " + VERSION);
    }
    String cluster = in.string("cluster");
    if (!cluster.equals(clusterId)) {
      throw new WireFormatException("message from cluster " + quote(cluster)
          + " refused by a node of cluster " + quote(clusterId));
    }
    String typeName = in.string("type");
    Kind<?> kind = BY_NAME.get(typeName);
    if (kind == null) {
      throw new WireFormatException("unknown message type " + quote(typeName));
    }
    Header header = new Header(in.nodeId("from"), in.nodeId("to"), in.number("term"));
    try {
      return kind.reader.read(header, in);
    } catch (WireFormatException e) {
      throw e;
    } catch (RuntimeException e) {
      throw new WireFormatException("invalid " + typeName + ": " + e.getMessage(), e);
    }
  }

  /**
   * Packs entries into the binary blob described in the class comment.
   *
   * @param entries the entries
   * @return the blob
   * @throws IllegalArgumentException if the blob would not fit in an array
   */
  static byte[] packEntries(List<LogEntry> entries) {
    long size = 4;
    for (LogEntry e : entries) {
      size += ENTRY_HEADER_BYTES + e.data().length;
    }
    if (size > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException("entries too large to encode: " + size + " bytes");
    }
    ByteBuffer buf = ByteBuffer.allocate((int) size);
    buf.putInt(entries.size());
    for (LogEntry e : entries) {
      buf.putLong(e.index()).putLong(e.term()).put((byte) e.type().ordinal())
          .putLong(e.session()).putLong(e.sequence()).putLong(e.timestamp())
          .putInt(e.data().length).put(e.data());
    }
    return buf.array();
  }

  /**
   * Unpacks and validates a blob made by {@link #packEntries}.
   *
   * @param blob the blob
   * @param prevLogIndex the index before the first entry
   * @param prevLogTerm the term at prevLogIndex; entry terms may not be lower
   * @param term the message's term; entry terms may not be higher
   * @return the entries
   * @throws WireFormatException if the blob is not valid
   */
  static List<LogEntry> unpackEntries(byte[] blob, long prevLogIndex, long prevLogTerm,
      long term) {
    ByteBuffer buf = ByteBuffer.wrap(blob);
    if (buf.remaining() < 4) {
      throw new WireFormatException("entries: blob of " + blob.length + " bytes has no count");
    }
    int count = buf.getInt();
    if (count < 0 || count > buf.remaining() / ENTRY_HEADER_BYTES) {
      throw new WireFormatException("entries: count " + count + " impossible in a blob of "
          + blob.length + " bytes");
    }
    if (prevLogIndex > Long.MAX_VALUE - count) {
      throw new WireFormatException("entries: index overflow after prevLogIndex " + prevLogIndex);
    }
    List<LogEntry> entries = new ArrayList<>(count);
    long lastTerm = prevLogTerm;
    for (int i = 0; i < count; i++) {
      if (buf.remaining() < ENTRY_HEADER_BYTES) {
        throw new WireFormatException("entries: blob truncated in entry " + i);
      }
      long index = buf.getLong();
      long entryTerm = buf.getLong();
      int typeOrdinal = buf.get() & 0xFF;
      long session = buf.getLong();
      long sequence = buf.getLong();
      long timestamp = buf.getLong();
      int length = buf.getInt();
      if (index != prevLogIndex + 1 + i) {
        throw new WireFormatException("entries: entry " + i + " has index " + index
            + ", expected " + (prevLogIndex + 1 + i) + " (contiguous from prevLogIndex + 1)");
      }
      if (entryTerm < lastTerm || entryTerm > term) {
        throw new WireFormatException("entries: entry " + index + " has term " + entryTerm
            + ", expected between " + lastTerm + " and the message term " + term);
      }
      EntryType type;
      try {
        type = EntryType.ofOrdinal(typeOrdinal);
      } catch (IllegalArgumentException e) {
        throw new WireFormatException("entries: entry " + index + " has unknown type "
            + typeOrdinal, e);
      }
      if (session < 0 || sequence < 0 || timestamp < 0) {
        throw new WireFormatException("entries: entry " + index
            + " has a negative session, sequence or timestamp");
      }
      if (length < 0 || length > buf.remaining()) {
        throw new WireFormatException("entries: entry " + index + " claims " + length
            + " bytes of data, " + buf.remaining() + " left in the blob");
      }
      byte[] data = new byte[length];
      buf.get(data);
      entries.add(new LogEntry(index, entryTerm, type, session, sequence, timestamp, data));
      lastTerm = entryTerm;
    }
    if (buf.hasRemaining()) {
      throw new WireFormatException("entries: " + buf.remaining() + " trailing bytes after "
          + count + " entries");
    }
    return entries;
  }

  private static String nodeIdProblem(String nodeId) {
    if (nodeId == null || nodeId.isEmpty() || nodeId.length() > MAX_ID_LENGTH) {
      return "invalid node id " + quote(nodeId) + ": 1 to " + MAX_ID_LENGTH + " characters";
    }
    for (int i = 0; i < nodeId.length(); i++) {
      char c = nodeId.charAt(i);
      if (Character.isWhitespace(c) || Character.isISOControl(c)) {
        return "invalid node id " + quote(nodeId) + ": whitespace or control character";
      }
    }
    return null;
  }

  /** @return id if it is a valid node id, for the field name of a message being decoded */
  private static String nodeIdField(String name, String id) {
    String problem = nodeIdProblem(id);
    if (problem != null) {
      throw new WireFormatException("field '" + name + "': " + problem);
    }
    return id;
  }

  /** Quotes a value for an error message, shortened and with control characters escaped. */
  private static String quote(Object value) {
    if (value == null) {
      return "null";
    }
    String s = String.valueOf(value);
    StringBuilder b = new StringBuilder("'");
    for (int i = 0; i < s.length() && i < 64; i++) {
      char c = s.charAt(i);
      b.append(Character.isISOControl(c) ? '?' : c);
    }
    return b.append(s.length() > 64 ? "...'" : "'").toString();
  }

  private static <T extends Message> void register(String name, Class<T> type, Writer<T> writer,
      Reader<T> reader) {
    Kind<T> kind = new Kind<>(name, type, writer, reader);
    if (BY_NAME.put(name, kind) != null || BY_CLASS.put(type, kind) != null) {
      throw new IllegalStateException("message type registered twice: " + name);
    }
  }

  /** How one message type is written and read, apart from the common header. */
  private record Kind<T extends Message>(String name, Class<T> type, Writer<T> writer,
      Reader<T> reader) {
    void write(Message message, Out out) {
      writer.write(type.cast(message), out);
    }
  }

  @FunctionalInterface
  private interface Writer<T extends Message> {
    void write(T message, Out out);
  }

  @FunctionalInterface
  private interface Reader<T extends Message> {
    T read(Header header, In in);
  }

  /** The fields every message has, already validated. */
  private record Header(String from, String to, long term) {
  }

  /** Writes a message's own fields. */
  private static final class Out {
    private final JsonObject json;
    private final int maxEntriesBytes;

    Out(JsonObject json, int maxEntriesBytes) {
      this.json = json;
      this.maxEntriesBytes = maxEntriesBytes;
    }

    Out put(String name, long value) {
      json.put(name, value);
      return this;
    }

    Out put(String name, boolean value) {
      json.put(name, value);
      return this;
    }

    Out put(String name, String value) {
      json.put(name, value);
      return this;
    }

    Out putOptional(String name, String valueOrNull) {
      json.put(name, valueOrNull);
      return this;
    }

    Out putBytes(String name, byte[] data) {
      byte[] bytes = data == null ? new byte[0] : data;
      if (bytes.length > maxEntriesBytes) {
        throw new IllegalArgumentException("field '" + name + "' of " + bytes.length
            + " bytes exceeds the limit of " + maxEntriesBytes);
      }
      json.put(name, Base64.getEncoder().encodeToString(bytes));
      return this;
    }

    Out putEntries(String name, List<LogEntry> entries) {
      byte[] blob = packEntries(entries);
      if (blob.length > maxEntriesBytes) {
        throw new IllegalArgumentException("entries blob of " + blob.length
            + " bytes exceeds the limit of " + maxEntriesBytes);
      }
      json.put(name, Base64.getEncoder().encodeToString(blob));
      return this;
    }
  }

  /** Reads and validates a message's fields. */
  private static final class In {
    private final JsonObject json;
    private final int maxEntriesBytes;

    In(JsonObject json, int maxEntriesBytes) {
      this.json = json;
      this.maxEntriesBytes = maxEntriesBytes;
    }

    private Object required(String name) {
      Object value = json.getValue(name);
      if (value == null) {
        throw new WireFormatException("missing field '" + name + "'");
      }
      return value;
    }

    /** A JSON integer that fits a long and is not negative. */
    long number(String name) {
      Object value = required(name);
      long n;
      if (value instanceof Integer || value instanceof Long || value instanceof Short
          || value instanceof Byte) {
        n = ((Number) value).longValue();
      } else if (value instanceof BigInteger) {
        throw new WireFormatException("field '" + name + "' out of range: " + quote(value));
      } else {
        throw new WireFormatException("field '" + name + "' must be an integer, got "
            + typeOf(value) + " " + quote(value));
      }
      if (n < 0) {
        throw new WireFormatException("field '" + name + "' must not be negative: " + n);
      }
      return n;
    }

    boolean bool(String name) {
      Object value = required(name);
      if (!(value instanceof Boolean)) {
        throw new WireFormatException("field '" + name + "' must be a boolean, got "
            + typeOf(value) + " " + quote(value));
      }
      return (Boolean) value;
    }

    String string(String name) {
      Object value = required(name);
      if (!(value instanceof String)) {
        throw new WireFormatException("field '" + name + "' must be a string, got "
            + typeOf(value) + " " + quote(value));
      }
      return (String) value;
    }

    String nodeId(String name) {
      return nodeIdField(name, string(name));
    }

    String optionalNodeId(String name) {
      return json.getValue(name) == null ? null : nodeId(name);
    }

    <E extends Enum<E>> E enumValue(String name, Class<E> type) {
      String text = string(name);
      try {
        return Enum.valueOf(type, text);
      } catch (IllegalArgumentException e) {
        throw new WireFormatException("field '" + name + "': unknown value " + quote(text), e);
      }
    }

    byte[] bytes(String name) {
      return base64(name, string(name));
    }

    private byte[] base64(String name, String text) {
      long maxChars = 4L * ((maxEntriesBytes + 2L) / 3);
      if (text.length() > maxChars) {
        throw new WireFormatException("field '" + name + "': " + text.length()
            + " base64 characters exceed the limit of " + maxEntriesBytes + " bytes");
      }
      byte[] bytes;
      try {
        bytes = Base64.getDecoder().decode(text);
      } catch (IllegalArgumentException e) {
        throw new WireFormatException("field '" + name + "' is not valid base64: "
            + e.getMessage(), e);
      }
      // the text bound above lets through up to 2 bytes more than the limit (unpadded base64)
      if (bytes.length > maxEntriesBytes) {
        throw new WireFormatException("field '" + name + "': " + bytes.length
            + " bytes exceed the limit of " + maxEntriesBytes + " bytes");
      }
      return bytes;
    }

    List<LogEntry> entries(String name, long prevLogIndex, long prevLogTerm, long term) {
      return unpackEntries(base64(name, string(name)), prevLogIndex, prevLogTerm, term);
    }

    private static String typeOf(Object value) {
      if (value instanceof JsonObject) {
        return "object";
      }
      if (value instanceof Number) {
        return "number";
      }
      return value.getClass().getSimpleName().replace("Json", "").toLowerCase();
    }
  }
}
