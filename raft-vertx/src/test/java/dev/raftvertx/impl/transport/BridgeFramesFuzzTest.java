package dev.raftvertx.impl.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.raftvertx.testing.FuzzSeed;
import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Fuzzes the bridge frame reader ({@link BridgeFrames#reader}) with streams of frames cut into
 * random chunks, valid and corrupted: bad length prefixes (negative, 0, 1, over the bound, off
 * by one), bodies that are JSON but not an object, invalid UTF-8, deep nesting, huge numbers,
 * flipped and inserted bytes. The properties:
 * Binary frames (a Raft message in binary form, first byte {@link RaftWire#BINARY_MAGIC}) are
 * mixed in and must come out as they went in.
 * <ul>
 *   <li>a valid stream yields every frame, in order, wherever it is cut, and no error;
 *   <li>the reader never throws; it reports at most one error and delivers nothing after it;
 *   <li>what it delivers is a usable JSON object; the frames before a corrupted one are
 *       delivered intact.
 * </ul>
 * Seeded and bounded like {@link RaftWireFuzzTest} (see {@link FuzzSeed}).
 */
class BridgeFramesFuzzTest {

  static final int MAX_FRAME = 16 * 1024;
  static final int DEFAULT_CASES = 3_000;

  private final RaftWire wire = new RaftWire("c1");

  /** What a reader did with one stream. */
  private static final class Recorder {
    /** JSON frames as JsonObjects, binary ones as Buffers, in order. */
    final List<Object> frames = new ArrayList<>();
    final List<String> errors = new ArrayList<>();
    int framesAfterError;

    Handler<Buffer> reader() {
      return BridgeFrames.reader(MAX_FRAME, this::frame, this::frame, errors::add);
    }

    private void frame(Object frame) {
      if (!errors.isEmpty()) {
        framesAfterError++;
      }
      frames.add(frame);
    }
  }

  @Test
  void validStreamsCutAnywhereYieldEveryFrameInOrder() {
    FuzzSeed seed = FuzzSeed.fromProperties("BridgeFramesFuzzTest.validStreams", DEFAULT_CASES);
    for (int i = seed.first(); i < seed.end(); i++) {
      Random r = new Random(seed.caseSeed(i));
      List<Object> sent = new ArrayList<>();
      Buffer stream = Buffer.buffer();
      for (int f = 0, n = 1 + r.nextInt(6); f < n; f++) {
        Object body = frameBody(r);
        sent.add(body);
        stream.appendBuffer(frame(body));
      }
      Recorder rec = feed(stream, r);
      String replay = seed.replay(i);
      assertEquals(List.of(), rec.errors, replay);
      assertEquals(sent, rec.frames, replay);
    }
  }

  @Test
  void corruptStreamsFailOnceWithoutThrowingAndKeepTheFramesBefore() {
    FuzzSeed seed = FuzzSeed.fromProperties("BridgeFramesFuzzTest.corruptStreams", DEFAULT_CASES);
    int failed = 0;
    for (int i = seed.first(); i < seed.end(); i++) {
      Random r = new Random(seed.caseSeed(i));
      String replay = seed.replay(i);
      List<Object> before = new ArrayList<>();
      Buffer stream = Buffer.buffer();
      int good = r.nextInt(4);
      for (int f = 0; f < good; f++) {
        Object body = frameBody(r);
        before.add(body);
        stream.appendBuffer(frame(body));
      }
      boolean localized = r.nextInt(4) != 0;
      if (localized) {
        stream.appendBuffer(corruptFrame(r));
      } else {
        stream.appendBuffer(frame(frameBody(r)));
        stream = Buffer.buffer(WireFuzzer.mutateBytes(stream.getBytes(), r));
      }
      for (int f = 0, n = r.nextInt(3); f < n; f++) {
        stream.appendBuffer(frame(frameBody(r)));
      }
      Recorder rec;
      try {
        rec = feed(stream, r);
      } catch (RuntimeException e) {
        throw new AssertionError(replay + ": the reader threw " + e, e);
      }
      assertTrue(rec.errors.size() <= 1, replay + ": errors " + rec.errors);
      assertEquals(0, rec.framesAfterError, replay + ": frames after the error " + rec.errors);
      for (String error : rec.errors) {
        assertTrue(error != null && !error.isBlank() && error.length() < 1_000,
            replay + ": error " + error);
      }
      for (Object frame : rec.frames) {
        try {
          if (frame instanceof JsonObject json) {
            json.encode(); // usable: no null map, no odd values
            json.fieldNames().forEach(json::getValue);
          } else {
            Buffer binary = (Buffer) frame;
            assertTrue(binary.length() >= 2 && binary.getByte(0) == RaftWire.BINARY_MAGIC,
                replay + ": a binary frame without the magic byte");
          }
        } catch (RuntimeException e) {
          throw new AssertionError(replay + ": the reader delivered an unusable object: " + e, e);
        }
      }
      if (localized) {
        assertTrue(rec.frames.size() >= before.size(), replay);
        assertEquals(before, rec.frames.subList(0, before.size()), replay);
      }
      failed += rec.errors.size();
    }
    System.out.printf("FUZZ BridgeFramesFuzzTest.corruptStreams: %d streams, %d failed the"
        + " connection%n", seed.iterations(), failed);
  }

  /**
   * A frame as BridgeFrames writes one: its length, then its JSON (a send frame when it is one)
   * or its binary message.
   */
  private static Buffer frame(Object frame) {
    if (frame instanceof Buffer binary) {
      return Buffer.buffer().appendInt(binary.length()).appendBuffer(binary);
    }
    JsonObject body = (JsonObject) frame;
    if ("send".equals(body.getValue("type")) && body.getValue("body") instanceof JsonObject m
        && body.getValue("address") instanceof String address) {
      return BridgeFrames.send(address, m);
    }
    Buffer json = body.toBuffer();
    return Buffer.buffer().appendInt(json.length()).appendBuffer(json);
  }

  /**
   * A frame body: a bridge send of a wire message, an arbitrary JSON object, or a message in
   * binary form (possibly mutated: the reader passes binary frames on as they are).
   */
  private Object frameBody(Random r) {
    if (r.nextInt(4) == 0) {
      Buffer binary = wire.encodeBinary(WireFuzzer.validBinaryMessage(r));
      if (binary.length() > MAX_FRAME) {
        binary = wire.encodeBinary(new dev.raftvertx.core.Message.AppendEntriesResponse(1, "a",
            "b", true, 1, 0, 0, 0, 1));
      }
      if (r.nextBoolean()) {
        byte[] mutated = WireFuzzer.mutateBinary(binary.getBytes(), r, MAX_FRAME);
        if (mutated.length >= 2 && mutated.length <= MAX_FRAME) {
          mutated[0] = RaftWire.BINARY_MAGIC;
          binary = Buffer.buffer(mutated);
        }
      }
      return binary;
    }
    if (r.nextInt(3) != 0) {
      JsonObject message = wire.encode(WireFuzzer.validMessage(r));
      if (message.encode().length() > MAX_FRAME - 200) {
        message = wire.encode(TransportTestSupport.vote("a", "b", r.nextInt(100)));
      }
      return new JsonObject().put("type", "send").put("address", "raft.c1.b.rpc")
          .put("body", message);
    }
    JsonObject o = new JsonObject();
    for (int k = 0, n = r.nextInt(5); k < n; k++) {
      o.put("k" + k + "é\u2028\"", switch (r.nextInt(5)) {
        case 0 -> r.nextLong();
        case 1 -> "v\u0000\uD83D\uDE80" + r.nextInt();
        case 2 -> new JsonArray().add(1).add(new JsonObject());
        case 3 -> r.nextBoolean();
        default -> r.nextDouble();
      });
    }
    return o;
  }

  /** One frame that is wrong in a way the reader must catch. */
  private Buffer corruptFrame(Random r) {
    byte[] body = switch (r.nextInt(12)) {
      case 0 -> "null".getBytes(StandardCharsets.UTF_8);
      case 1 -> "[]".getBytes(StandardCharsets.UTF_8);
      case 2 -> "\"a string\"".getBytes(StandardCharsets.UTF_8);
      case 3 -> "12".getBytes(StandardCharsets.UTF_8);
      case 4 -> "true".getBytes(StandardCharsets.UTF_8);
      case 5 -> new byte[] {'{', '"', 'a', '"', ':', '"', (byte) 0xC3, (byte) 0x28, '"', '}'};
      case 6 -> ("{\"a\":" + "[".repeat(5_000) + "]".repeat(5_000) + "}")
          .getBytes(StandardCharsets.UTF_8);
      case 7 -> ("{\"a\":" + "9".repeat(2_000) + "}").getBytes(StandardCharsets.UTF_8);
      case 8 -> "{\"a\":1}{\"b\":2}".getBytes(StandardCharsets.UTF_8);
      case 9 -> "{\"a\":1".getBytes(StandardCharsets.UTF_8);
      case 10 -> "\uFEFF{}".getBytes(StandardCharsets.UTF_8);
      default -> "{\"a\":1}\u0000".getBytes(StandardCharsets.UTF_8);
    };
    if (r.nextInt(3) != 0) {
      return Buffer.buffer().appendInt(body.length).appendBytes(body);
    }
    // a length prefix out of bounds, before a body that may or may not be there
    int length = switch (r.nextInt(6)) {
      case 0 -> -1 - r.nextInt(1000);
      case 1 -> Integer.MIN_VALUE;
      case 2 -> r.nextInt(2);
      case 3 -> MAX_FRAME + 1;
      case 4 -> Integer.MAX_VALUE;
      default -> MAX_FRAME + 1 + r.nextInt(1 << 20);
    };
    return Buffer.buffer().appendInt(length).appendBytes(body);
  }

  /** Feeds a stream to a new reader in random chunks (sometimes byte by byte). */
  private static Recorder feed(Buffer stream, Random r) {
    Recorder rec = new Recorder();
    Handler<Buffer> reader = rec.reader();
    int pos = 0;
    int maxChunk = r.nextInt(4) == 0 ? 1 : 1 + r.nextInt(stream.length() + 1);
    while (pos < stream.length()) {
      int n = Math.min(stream.length() - pos, 1 + r.nextInt(maxChunk));
      reader.handle(stream.getBuffer(pos, pos + n));
      pos += n;
    }
    return rec;
  }
}
