package dev.raftvertx.client;

import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import java.nio.charset.StandardCharsets;

/**
 * The binary client protocol of the sample key-value store: length-prefixed frames, many requests
 * in flight on one TCP connection, answered in any order and matched by request id. Every number
 * is big-endian.
 *
 * <pre>
 * frame    = length:int32 payload          (length = bytes of payload, 9 .. max frame bytes)
 * request  = id:int64 op:uint8 key:str16 value:bytes32 [expect:bytes32 when op = CAS]
 * response = id:int64 status:uint8 body
 * str16    = n:uint16 n bytes of UTF-8
 * bytes32  = n:int32 n bytes              (n = -1: absent)
 * </pre>
 *
 * <p>Ops: {@link #OP_STATUS} (key and value ignored; OK body: node id str16, role str16, leader
 * id str16 (empty if unknown), term int64), {@link #OP_PUT} (value required; OK body: log index
 * int64), {@link #OP_GET} (linearizable) and {@link #OP_GET_STALE} (OK body: value bytes32;
 * NOT_FOUND: empty), {@link #OP_DELETE} (OK or NOT_FOUND body: log index int64), {@link #OP_CAS}
 * (value required; expect absent means "only if the key is absent"; OK body: index int64;
 * CONFLICT body: index int64, current value bytes32), {@link #OP_AUTH} (value: the key-value
 * token; OK body empty). A node started with a key-value token answers every op but STATUS and
 * AUTH with {@link #UNAUTHORIZED} until its connection presented that token.
 *
 * <p>Every status from {@link #NOT_LEADER} on is an error whose body is: leader id str16 (empty
 * if unknown), the leader's client address "host:port" str16 (empty if unknown), error code
 * str16 (the Raft error, or BAD_REQUEST ...), message str16. {@link #NOT_LEADER},
 * {@link #UNAVAILABLE}, {@link #OVERLOADED}, {@link #BAD_REQUEST}, {@link #TOO_LARGE} and {@link #UNAUTHORIZED} say the
 * request was not applied; {@link #INDETERMINATE} says its outcome is unknown. A malformed frame
 * (a length out of bounds, a payload that does not parse) is answered with BAD_REQUEST when its
 * id can be read, or the connection is closed when the length is out of bounds.
 *
 * <p>Values are text: the store keeps them as strings, so bytes that are not UTF-8 are replaced
 * as the HTTP API replaces them.
 */
public final class KvBinaryProtocol {

  /** The node's id, role, known leader and term. */
  public static final int OP_STATUS = 0;
  /** Sets a key. */
  public static final int OP_PUT = 1;
  /** A linearizable read (ReadIndex on the leader). */
  public static final int OP_GET = 2;
  /** A read of the answering node's applied state, possibly stale. */
  public static final int OP_GET_STALE = 3;
  /** Removes a key. */
  public static final int OP_DELETE = 4;
  /** Compare-and-set. */
  public static final int OP_CAS = 5;
  /** Presents the key-value token (the value): later requests on the connection may use it. */
  public static final int OP_AUTH = 6;

  /** Done. */
  public static final int OK = 0;
  /** No such key. */
  public static final int NOT_FOUND = 1;
  /** Compare-and-set: the current value is not the expected one; nothing written. */
  public static final int CONFLICT = 2;
  /** Not the leader: not applied; the body names the leader when known. */
  public static final int NOT_LEADER = 3;
  /** Refused for now (a leadership transfer, a stopping node, an overwritten entry): not applied. */
  public static final int UNAVAILABLE = 4;
  /** Too many uncommitted commands or requests in flight: not applied, retry later. */
  public static final int OVERLOADED = 5;
  /** Unknown outcome (leadership lost after appending, no answer in time). */
  public static final int INDETERMINATE = 6;
  /** Malformed request: not applied. */
  public static final int BAD_REQUEST = 7;
  /** Command larger than the node accepts: not applied. */
  public static final int TOO_LARGE = 8;
  /** The node requires a token and the connection has presented none, or a wrong one. */
  public static final int UNAUTHORIZED = 9;

  /** Smallest payload: an id and an op or a status. */
  public static final int MIN_FRAME_BYTES = 9;
  /** Largest frame length any peer may announce: 16 MiB. */
  public static final int MAX_FRAME_BYTES = 16 << 20;

  private KvBinaryProtocol() {
  }

  /**
   * @param status a status byte
   * @return its name, e.g. "NOT_LEADER"
   */
  public static String statusName(int status) {
    return switch (status) {
      case OK -> "OK";
      case NOT_FOUND -> "NOT_FOUND";
      case CONFLICT -> "CONFLICT";
      case NOT_LEADER -> "NOT_LEADER";
      case UNAVAILABLE -> "UNAVAILABLE";
      case OVERLOADED -> "OVERLOADED";
      case INDETERMINATE -> "INDETERMINATE";
      case BAD_REQUEST -> "BAD_REQUEST";
      case TOO_LARGE -> "TOO_LARGE";
      case UNAUTHORIZED -> "UNAUTHORIZED";
      default -> "STATUS_" + status;
    };
  }

  /**
   * Appends one request frame.
   *
   * @param out where to append
   * @param id the request id
   * @param op the op
   * @param key the key, UTF-8, at most 65535 bytes
   * @param value the value, or null
   * @param expect for CAS: the expected value, or null for "absent"; ignored for other ops
   */
  public static void appendRequest(Buffer out, long id, int op, byte[] key, Buffer value,
      Buffer expect) {
    if (key.length > 0xFFFF) {
      throw new IllegalArgumentException("key longer than 65535 bytes");
    }
    int length = 8 + 1 + 2 + key.length + 4 + (value == null ? 0 : value.length());
    if (op == OP_CAS) {
      length += 4 + (expect == null ? 0 : expect.length());
    }
    out.appendInt(length).appendLong(id).appendByte((byte) op)
        .appendUnsignedShort(key.length).appendBytes(key);
    appendBytes32(out, value);
    if (op == OP_CAS) {
      appendBytes32(out, expect);
    }
  }

  /**
   * @param out where to append
   * @param b the bytes, or null for absent (-1)
   */
  public static void appendBytes32(Buffer out, Buffer b) {
    if (b == null) {
      out.appendInt(-1);
    } else {
      out.appendInt(b.length()).appendBuffer(b);
    }
  }

  /**
   * @param out where to append
   * @param s the string (null is written as empty); cut to fit 65535 bytes
   */
  public static void appendStr16(Buffer out, String s) {
    byte[] b = s == null ? new byte[0] : s.getBytes(StandardCharsets.UTF_8);
    int n = Math.min(b.length, 0xFFFF);
    out.appendUnsignedShort(n).appendBytes(b, 0, n);
  }

  /**
   * Appends an error response frame.
   *
   * @param out where to append
   * @param id the request id
   * @param status an error status
   * @param leaderId the known leader, or null
   * @param leaderAddress its client address, or null
   * @param code the error code
   * @param message a human-readable message
   */
  public static void appendError(Buffer out, long id, int status, String leaderId,
      String leaderAddress, String code, String message) {
    int start = out.length();
    out.appendInt(0).appendLong(id).appendByte((byte) status);
    appendStr16(out, leaderId);
    appendStr16(out, leaderAddress);
    appendStr16(out, code);
    appendStr16(out, message);
    out.setInt(start, out.length() - start - 4);
  }

  /** Reads the fields of a frame payload in order; throws {@link IllegalArgumentException}. */
  public static final class Cursor {
    private final Buffer buf;
    private int pos;
    private final int end;

    /**
     * @param buf the payload
     */
    public Cursor(Buffer buf) {
      this.buf = buf;
      this.end = buf.length();
    }

    private void need(int n, String what) {
      if (n < 0 || end - pos < n) {
        throw new IllegalArgumentException("truncated " + what);
      }
    }

    /**
     * @param what the field, named in the error if it is truncated
     * @return the next int64
     */
    public long int64(String what) {
      need(8, what);
      long v = buf.getLong(pos);
      pos += 8;
      return v;
    }

    /**
     * @param what the field, named in the error if it is truncated
     * @return the next uint8
     */
    public int uint8(String what) {
      need(1, what);
      return buf.getUnsignedByte(pos++);
    }

    /**
     * @param what the field, named in the error if it is truncated
     * @return the next str16
     */
    public String str16(String what) {
      need(2, what);
      int n = buf.getUnsignedShort(pos);
      pos += 2;
      need(n, what);
      String s = buf.getString(pos, pos + n, "UTF-8");
      pos += n;
      return s;
    }

    /**
     * @param what the field, named in the error if it is truncated
     * @return the next bytes32 as a copy, or null if absent
     */
    public Buffer bytes32(String what) {
      need(4, what);
      int n = buf.getInt(pos);
      pos += 4;
      if (n == -1) {
        return null;
      }
      need(n, what);
      Buffer b = buf.getBuffer(pos, pos + n);
      pos += n;
      return b;
    }

    /**
     * @param what the field, named in the error if it is truncated
     * @return the next bytes32 decoded as UTF-8, or null if absent
     */
    public String text32(String what) {
      need(4, what);
      int n = buf.getInt(pos);
      pos += 4;
      if (n == -1) {
        return null;
      }
      need(n, what);
      String s = buf.getString(pos, pos + n, "UTF-8");
      pos += n;
      return s;
    }

    /** @return true if every byte was read */
    public boolean atEnd() {
      return pos == end;
    }
  }

  /**
   * Splits a byte stream into frame payloads. Holds at most one incomplete frame (bounded by the
   * maximum frame length) plus the bytes of one read; a length out of bounds stops it for good
   * and reports an error (the caller closes the connection).
   */
  public static final class FrameReader implements Handler<Buffer> {
    private final int maxFrameBytes;
    private final Handler<Buffer> onFrame;
    private final Handler<String> onError;
    private Buffer pending;
    private boolean failed;

    /**
     * @param maxFrameBytes the largest payload accepted (at most {@link #MAX_FRAME_BYTES})
     * @param onFrame gets each payload; it is a view valid only during the call
     * @param onError gets the reason once, when a length is out of bounds
     */
    public FrameReader(int maxFrameBytes, Handler<Buffer> onFrame, Handler<String> onError) {
      this.maxFrameBytes = Math.min(maxFrameBytes, MAX_FRAME_BYTES);
      this.onFrame = onFrame;
      this.onError = onError;
    }

    @Override
    public void handle(Buffer chunk) {
      if (failed) {
        return;
      }
      Buffer data;
      if (pending == null) {
        data = chunk;
      } else {
        pending.appendBuffer(chunk);
        data = pending;
      }
      int pos = 0;
      int n = data.length();
      while (n - pos >= 4) {
        int length = data.getInt(pos);
        if (length < MIN_FRAME_BYTES || length > maxFrameBytes) {
          failed = true;
          pending = null;
          onError.handle("frame length " + length + " outside [" + MIN_FRAME_BYTES + ", "
              + maxFrameBytes + "]");
          return;
        }
        if (n - pos - 4 < length) {
          break;
        }
        onFrame.handle(data.slice(pos + 4, pos + 4 + length));
        if (failed) {
          return;
        }
        pos += 4 + length;
      }
      pending = pos == n ? null : data.getBuffer(pos, n);
    }

    /** Stops reading: later bytes are ignored. */
    public void stop() {
      failed = true;
      pending = null;
    }
  }
}
