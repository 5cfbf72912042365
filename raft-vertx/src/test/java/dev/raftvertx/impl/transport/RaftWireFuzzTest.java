package dev.raftvertx.impl.transport;

import static dev.raftvertx.impl.transport.TransportTestSupport.assertSameMessage;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.raftvertx.core.Message;
import dev.raftvertx.testing.FuzzSeed;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Fuzzes {@link RaftWire#decode}: valid messages of every type are mutated structurally (see
 * {@link WireFuzzer}) and as JSON text, and decoded by a wire with the default size limit and by
 * one with a small limit (so that blobs around the limit are cheap to build). The properties:
 * <ul>
 *   <li>decode refuses bad input with a {@link WireFormatException} only, with a short message,
 *       never with another exception;
 *   <li>a message it accepts encodes again, and that encoding decodes to the same message
 *       (directly and through JSON text);
 *   <li>every valid message round-trips.
 * </ul>
 * The binary form of AppendEntries and its response ({@link RaftWire#decodeBinary}) is fuzzed
 * the same way, knowing its layout; what it accepts must also agree with the JSON form.
 * A bounded pass runs in every build (a seed is drawn and printed each run);
 * {@code -Draft.fuzz.seed} replays one and {@code -Draft.fuzz.iterations} runs longer
 * (see {@link FuzzSeed}).
 */
class RaftWireFuzzTest {

  /** Cases per test in a normal build: about a second each. */
  static final int DEFAULT_CASES = 20_000;

  /** A limit small enough that the fuzzer builds blobs just under and over it on any case. */
  static final int SMALL_LIMIT = 4_096;

  /** The longest refusal message: the wire quotes at most 64 characters of a bad value. */
  static final int MAX_REASON_LENGTH = 600;

  private final RaftWire wire = new RaftWire("c1");
  private final RaftWire small = new RaftWire("c1", SMALL_LIMIT);

  /** What one case came to. */
  private enum Outcome { REFUSED, ACCEPTED }

  @Test
  void mutatedMessagesAreRefusedWithAWireFormatExceptionOrRoundTrip() {
    FuzzSeed seed = FuzzSeed.fromProperties("RaftWireFuzzTest.mutatedMessages", DEFAULT_CASES);
    int accepted = 0;
    long start = System.nanoTime();
    for (int i = seed.first(); i < seed.end(); i++) {
      Random r = new Random(seed.caseSeed(i));
      RaftWire under = r.nextBoolean() ? wire : small;
      JsonObject mutated;
      try {
        Message valid = WireFuzzer.validMessage(r);
        JsonObject json;
        try {
          json = under.encode(valid);
        } catch (IllegalArgumentException tooLarge) {
          json = wire.encode(valid); // over the small limit: the small wire must refuse it
        }
        mutated = WireFuzzer.mutate(json, r,
            under == small ? SMALL_LIMIT : RaftWire.DEFAULT_MAX_ENTRIES_BYTES);
      } catch (RuntimeException e) {
        throw new AssertionError(seed.replay(i) + ": the fuzzer itself failed: " + e, e);
      }
      if (check(under, mutated, seed.replay(i)) == Outcome.ACCEPTED) {
        accepted++;
      }
    }
    report("mutatedMessages", seed, accepted, start);
  }

  @Test
  void mutatedJsonTextIsRefusedWithAWireFormatExceptionOrRoundTrips() {
    FuzzSeed seed = FuzzSeed.fromProperties("RaftWireFuzzTest.mutatedText", DEFAULT_CASES / 4);
    int accepted = 0;
    int notJson = 0;
    long start = System.nanoTime();
    for (int i = seed.first(); i < seed.end(); i++) {
      Random r = new Random(seed.caseSeed(i));
      String text = WireFuzzer.mutateText(wire.encode(WireFuzzer.validMessage(r)).encode(), r);
      JsonObject json;
      try {
        json = new JsonObject(text);
      } catch (DecodeException e) {
        notJson++; // the frame reader refuses it before the wire sees it (BridgeFramesFuzzTest)
        continue;
      }
      if (check(wire, json, seed.replay(i)) == Outcome.ACCEPTED) {
        accepted++;
      }
    }
    report("mutatedText (" + notJson + " not JSON)", seed, accepted, start);
  }

  @Test
  void mutatedBinaryMessagesAreRefusedWithAWireFormatExceptionOrRoundTrip() {
    FuzzSeed seed = FuzzSeed.fromProperties("RaftWireFuzzTest.mutatedBinary", DEFAULT_CASES / 2);
    int accepted = 0;
    long start = System.nanoTime();
    for (int i = seed.first(); i < seed.end(); i++) {
      Random r = new Random(seed.caseSeed(i));
      RaftWire under = r.nextBoolean() ? wire : small;
      byte[] bytes;
      try {
        Message valid = WireFuzzer.validBinaryMessage(r);
        Buffer encoded;
        try {
          encoded = under.encodeBinary(valid);
        } catch (IllegalArgumentException tooLarge) {
          encoded = wire.encodeBinary(valid);
        }
        bytes = r.nextInt(20) == 0 ? encoded.getBytes() : WireFuzzer.mutateBinary(
            encoded.getBytes(), r, under == small ? SMALL_LIMIT : RaftWire.DEFAULT_MAX_ENTRIES_BYTES);
      } catch (RuntimeException e) {
        throw new AssertionError(seed.replay(i) + ": the fuzzer itself failed: " + e, e);
      }
      if (checkBinary(under, bytes, seed.replay(i)) == Outcome.ACCEPTED) {
        accepted++;
      }
    }
    report("mutatedBinary", seed, accepted, start);
  }

  @Test
  void everyGeneratedValidMessageRoundTrips() {
    FuzzSeed seed = FuzzSeed.fromProperties("RaftWireFuzzTest.validMessages", DEFAULT_CASES / 4);
    long start = System.nanoTime();
    for (int i = seed.first(); i < seed.end(); i++) {
      Random r = new Random(seed.caseSeed(i));
      Message m = WireFuzzer.generate(r);
      JsonObject json = wire.encode(m);
      try {
        assertSameMessage(m, wire.decode(json));
        assertSameMessage(m, wire.decode(new JsonObject(json.encode())));
        if (RaftWire.supportsBinary(m)) {
          assertSameMessage(m, wire.decodeBinary(wire.encodeBinary(m)));
        }
      } catch (RuntimeException | AssertionError e) {
        throw new AssertionError(seed.replay(i) + ": " + m + " did not round-trip: " + e, e);
      }
    }
    report("validMessages", seed, seed.iterations(), start);
  }

  /**
   * Decodes one fuzzed message and checks the properties.
   *
   * @return whether the wire accepted it
   */
  static Outcome check(RaftWire wire, JsonObject json, String replay) {
    Message decoded;
    try {
      decoded = wire.decode(json);
    } catch (WireFormatException e) {
      String reason = e.getMessage();
      assertTrue(reason != null && !reason.isBlank() && reason.length() <= MAX_REASON_LENGTH,
          replay + ": refusal reason empty or too long (" + (reason == null ? 0 : reason.length())
              + " chars): " + reason);
      return Outcome.REFUSED;
    } catch (Throwable e) {
      throw new AssertionError(replay + ": decode threw " + e + " instead of a"
          + " WireFormatException, for " + WireFuzzer.describe(json), e);
    }
    JsonObject again;
    try {
      again = wire.encode(decoded);
    } catch (RuntimeException e) {
      throw new AssertionError(replay + ": decode accepted " + WireFuzzer.describe(json)
          + " as " + decoded + " but it does not encode again: " + e, e);
    }
    try {
      assertSameMessage(decoded, wire.decode(again));
      assertSameMessage(decoded, wire.decode(new JsonObject(again.encode())));
    } catch (RuntimeException | AssertionError e) {
      throw new AssertionError(replay + ": decode accepted " + WireFuzzer.describe(json)
          + " as " + decoded + " but its encoding " + WireFuzzer.describe(again)
          + " does not decode to the same message: " + e, e);
    }
    return Outcome.ACCEPTED;
  }

  /** As {@link #check}, for the binary form; what it accepts must also agree with the JSON form. */
  static Outcome checkBinary(RaftWire wire, byte[] bytes, String replay) {
    Message decoded;
    try {
      decoded = wire.decodeBinary(Buffer.buffer(bytes));
    } catch (WireFormatException e) {
      String reason = e.getMessage();
      assertTrue(reason != null && !reason.isBlank() && reason.length() <= MAX_REASON_LENGTH,
          replay + ": refusal reason empty or too long: " + reason);
      return Outcome.REFUSED;
    } catch (Throwable e) {
      throw new AssertionError(replay + ": decodeBinary threw " + e + " instead of a"
          + " WireFormatException, for " + bytes.length + " bytes " + hex(bytes), e);
    }
    try {
      assertSameMessage(decoded, wire.decodeBinary(wire.encodeBinary(decoded)));
      assertSameMessage(decoded, wire.decode(wire.encode(decoded)));
    } catch (RuntimeException | AssertionError e) {
      throw new AssertionError(replay + ": decodeBinary accepted " + hex(bytes) + " as "
          + decoded + " but it does not encode to the same message again: " + e, e);
    }
    return Outcome.ACCEPTED;
  }

  private static String hex(byte[] bytes) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < bytes.length && i < 200; i++) {
      b.append(String.format("%02x", bytes[i]));
    }
    return b.append(bytes.length > 200 ? "..." : "").toString();
  }

  private static void report(String what, FuzzSeed seed, int accepted, long startNanos) {
    System.out.printf("FUZZ RaftWireFuzzTest.%s: %d cases, %d accepted and round-tripped, the"
        + " rest refused, in %.1f s%n", what, seed.iterations(), accepted,
        (System.nanoTime() - startNanos) / 1e9);
  }
}
