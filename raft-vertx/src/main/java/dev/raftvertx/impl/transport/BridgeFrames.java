package dev.raftvertx.impl.transport;

import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import io.vertx.core.parsetools.RecordParser;

/**
 * The frame format of the Vert.x TCP event-bus bridge: each frame is a 4-byte big-endian length
 * followed by that many bytes of UTF-8 JSON. A client sends
 * {@code {"type":"send","address":...,"body":...}}; the bridge answers errors with
 * {@code {"type":"err","message":...}} and a {@code ping} with a {@code pong}. Both ends of the
 * {@link TcpBridgeTransport} read frames with {@link #reader}, which refuses a length out of
 * bounds before buffering anything.
 */
final class BridgeFrames {

  private BridgeFrames() {
  }

  /**
   * @param address the event-bus address
   * @param body the message body
   * @return the frame that asks the bridge to {@code send} body to address
   */
  static Buffer send(String address, JsonObject body) {
    return frame(new JsonObject().put("type", "send").put("address", address).put("body", body));
  }

  /**
   * @param message the error code, e.g. {@code access_denied}
   * @return the frame the bridge answers an error with
   */
  static Buffer error(String message) {
    return frame(new JsonObject().put("type", "err").put("message", message));
  }

  /** @return the frame the bridge answers a ping with */
  static Buffer pong() {
    return frame(new JsonObject().put("type", "pong"));
  }

  /**
   * @param json the frame's content
   * @return the length-prefixed frame
   */
  static Buffer frame(JsonObject json) {
    return frame(json.toBuffer());
  }

  /**
   * @param bytes the frame's content (JSON, or a message in binary form)
   * @return the length-prefixed frame
   */
  static Buffer frame(Buffer bytes) {
    return Buffer.buffer(4 + bytes.length()).appendInt(bytes.length()).appendBuffer(bytes);
  }

  /**
   * A parser of inbound frames, to install as a socket's handler. A length prefix below 2 (the
   * shortest JSON object, negative ones included) or above the bound fails the stream at once,
   * before any of the frame is buffered; so a peer can make a connection hold at most
   * {@code maxFrameBytes} bytes, and only by sending them.
   *
   * @param maxFrameBytes the longest frame accepted
   * @param onFrame called with each frame's JSON
   * @param onError called once with the reason when the stream is not valid; the parser then
   *     ignores all further input and the caller should close the connection
   * @return the parser
   */
  static Handler<Buffer> reader(int maxFrameBytes, Handler<JsonObject> onFrame,
      Handler<String> onError) {
    return reader(maxFrameBytes, onFrame, null, onError);
  }

  /**
   * A parser of inbound frames that also accepts Raft messages in binary form: a frame whose
   * first byte is {@link RaftWire#BINARY_MAGIC} (a JSON frame starts with {@code '{'}) goes to
   * {@code onBinary} as it is.
   *
   * @param maxFrameBytes the longest frame accepted
   * @param onFrame called with each JSON frame
   * @param onBinary called with each binary frame, or null to refuse them as not JSON
   * @param onError called once with the reason when the stream is not valid
   * @return the parser
   */
  static Handler<Buffer> reader(int maxFrameBytes, Handler<JsonObject> onFrame,
      Handler<Buffer> onBinary, Handler<String> onError) {
    RecordParser parser = RecordParser.newFixed(4);
    parser.handler(new Handler<>() {
      private boolean inBody;
      private boolean failed;

      @Override
      public void handle(Buffer record) {
        if (failed) {
          return;
        }
        if (!inBody) {
          int length = record.getInt(0);
          if (length < 2 || length > maxFrameBytes) {
            fail("frame length " + length + " outside [2, " + maxFrameBytes + "]");
            return;
          }
          inBody = true;
          parser.fixedSizeMode(length);
          return;
        }
        inBody = false;
        parser.fixedSizeMode(4);
        if (onBinary != null && record.getByte(0) == RaftWire.BINARY_MAGIC) {
          onBinary.handle(record);
          return;
        }
        JsonObject json;
        try {
          json = record.toJsonObject();
        } catch (DecodeException | ClassCastException e) {
          fail("frame is not a JSON object: " + e.getMessage());
          return;
        }
        onFrame.handle(json);
      }

      private void fail(String reason) {
        failed = true;
        onError.handle(reason);
      }
    });
    return parser;
  }
}
