package dev.raftvertx.kv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The binary commands, results, queries and answers of the key-value store, and the JSON ones. */
class KvCodecTest {

  @Test
  void commandsSurviveTheirEncoding() {
    List<KvCommand> commands = List.of(new KvCommand.Put("k", "v"),
        new KvCommand.Put("", ""), new KvCommand.Put("unicode ключ ✓", "значение 🎉"),
        new KvCommand.Delete("gone"), new KvCommand.CompareAndSet("c", null, "first"),
        new KvCommand.CompareAndSet("c", "first", "second"),
        new KvCommand.Put("big", "x".repeat(100_000)));
    for (KvCommand c : commands) {
      Buffer encoded = c.encode();
      assertEquals(KvCommand.FORMAT, encoded.getByte(0));
      assertEquals(c, KvCommand.decode(encoded));
    }
  }

  @Test
  void jsonCommandsOfOlderLogsAreStillRead() {
    assertEquals(new KvCommand.Put("k", "v"), KvCommand.decode(new JsonObject()
        .put("op", "put").put("key", "k").put("value", "v").toBuffer()));
    assertEquals(new KvCommand.Delete("k"), KvCommand.decode(new JsonObject()
        .put("op", "delete").put("key", "k").toBuffer()));
    assertEquals(new KvCommand.CompareAndSet("k", null, "v"), KvCommand.decode(new JsonObject()
        .put("op", "cas").put("key", "k").putNull("expect").put("value", "v").toBuffer()));
  }

  @Test
  void everyCutOrAlteredCommandIsRefusedOrDecodedWhole() {
    Buffer put = new KvCommand.Put("key", "value").encode();
    for (int n = 0; n < put.length(); n++) {
      Buffer cut = put.getBuffer(0, n);
      assertThrows(IllegalArgumentException.class, () -> KvCommand.decode(cut), "cut at " + n);
    }
    Buffer longer = put.copy().appendByte((byte) 0);
    assertThrows(IllegalArgumentException.class, () -> KvCommand.decode(longer));
    Buffer badOp = put.copy().setByte(1, (byte) 9);
    assertThrows(IllegalArgumentException.class, () -> KvCommand.decode(badOp));
    Buffer negative = put.copy().setInt(2, -7);
    assertThrows(IllegalArgumentException.class, () -> KvCommand.decode(negative));
    Buffer noValue = new KvCommand.Delete("k").encode().setByte(1, (byte) 1).appendInt(-1);
    assertThrows(IllegalArgumentException.class, () -> KvCommand.decode(noValue));
    long seed = new Random().nextLong();
    Random random = new Random(seed);
    for (int i = 0; i < 10_000; i++) {
      Buffer b = put.copy();
      b.setByte(random.nextInt(b.length()), (byte) random.nextInt(256));
      try {
        KvCommand c = KvCommand.decode(b);
        assertEquals(c, KvCommand.decode(c.encode()), "seed " + seed);
      } catch (IllegalArgumentException expected) {
        // refused with a reason: fine
      }
    }
  }

  @Test
  void resultsAndAnswersSayWhatHappened() {
    assertTrue(KvCodec.deleted(KvCodec.deleteResult(true)));
    assertFalse(KvCodec.deleted(KvCodec.deleteResult(false)));
    assertEquals(new KvCodec.CasOutcome(true, "old"),
        KvCodec.CasOutcome.of(KvCodec.casResult(true, "old")));
    assertEquals(new KvCodec.CasOutcome(false, null),
        KvCodec.CasOutcome.of(KvCodec.casResult(false, null)));
    assertEquals("v ✓", KvCodec.value(KvCodec.answer("v ✓")));
    assertNull(KvCodec.value(KvCodec.answer(null)));
    assertEquals("", KvCodec.value(KvCodec.answer("")));
    assertEquals("ключ", KvCodec.queryKey(KvCodec.query("ключ")));
    assertThrows(IllegalArgumentException.class,
        () -> KvCodec.value(Buffer.buffer().appendInt(5).appendByte((byte) 1)));
  }

  @Test
  void jsonResultsKeptInOlderSessionTablesAreStillRead() {
    assertTrue(KvCodec.deleted(new JsonObject().put("deleted", true).toBuffer()));
    assertEquals(new KvCodec.CasOutcome(false, "now"), KvCodec.CasOutcome.of(new JsonObject()
        .put("swapped", false).put("current", "now").toBuffer()));
  }

  @Test
  void theStateMachineAnswersInTheseForms() {
    KvStateMachine kv = new KvStateMachine();
    assertEquals(0, kv.apply(1, new KvCommand.Put("k", "a").encode()).length());
    assertEquals(new KvCodec.CasOutcome(false, "a"), KvCodec.CasOutcome.of(
        kv.apply(2, new KvCommand.CompareAndSet("k", "z", "b").encode())));
    assertEquals(new KvCodec.CasOutcome(true, "a"), KvCodec.CasOutcome.of(
        kv.apply(3, new KvCommand.CompareAndSet("k", "a", "b").encode())));
    assertEquals("b", KvCodec.value(kv.query(KvCodec.query("k"))));
    assertTrue(KvCodec.deleted(kv.apply(4, new KvCommand.Delete("k").encode())));
    assertFalse(KvCodec.deleted(kv.apply(5, new KvCommand.Delete("k").encode())));
    assertNull(KvCodec.value(kv.query(KvCodec.query("k"))));
    // A command from an older log, then a foreign one that changes nothing.
    kv.apply(6, new JsonObject().put("op", "put").put("key", "j").put("value", "1").toBuffer());
    assertEquals("1", KvCodec.value(kv.query(KvCodec.query("j"))));
    kv.apply(7, Buffer.buffer("garbage"));
    assertEquals(1, kv.size());
  }
}
