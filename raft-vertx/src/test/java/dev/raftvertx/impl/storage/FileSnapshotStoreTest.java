package dev.raftvertx.impl.storage;

import static dev.raftvertx.impl.storage.StorageTestSupport.await;
import static dev.raftvertx.impl.storage.StorageTestSupport.eventually;
import static dev.raftvertx.impl.storage.StorageTestSupport.failure;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.raftvertx.core.Configuration;
import dev.raftvertx.spi.CorruptSnapshotException;
import dev.raftvertx.spi.SnapshotMeta;
import dev.raftvertx.spi.SnapshotOffsetException;
import dev.raftvertx.spi.SnapshotReader;
import dev.raftvertx.spi.SnapshotWriter;
import dev.raftvertx.spi.StorageException;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.streams.WriteStream;
import io.vertx.junit5.VertxExtension;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.stream.Stream;
import java.util.zip.CRC32;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

@ExtendWith(VertxExtension.class)
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class FileSnapshotStoreTest {

  private static final Configuration CONFIGURATION = Configuration.of(Map.of(
      "n1", "127.0.0.1:7001", "n2", "127.0.0.1:7002", "n3", "127.0.0.1:7003"));
  private static final byte[] SESSIONS = "encoded session table".getBytes();
  private static final int CHUNK = 64 << 10;

  @TempDir
  Path tmp;

  private Vertx vertx;
  private Path dir;
  private final List<FileSnapshotStore> stores = new ArrayList<>();
  private final Map<FileSnapshotStore, Context> contexts = new IdentityHashMap<>();
  private final StorageTestSupport.BlockedThreadWatch blockedThreads =
      new StorageTestSupport.BlockedThreadWatch();

  @BeforeEach
  void setUp(Vertx vertx) {
    this.vertx = vertx;
    this.dir = tmp.resolve("n1").resolve(FileSnapshotStore.DIRECTORY);
    blockedThreads.start();
  }

  @AfterEach
  void tearDown() throws Exception {
    for (FileSnapshotStore s : stores) {
      await(s.close());
    }
    blockedThreads.stop();
  }

  // =====================================================================================
  // Taking, committing, reading back
  // =====================================================================================

  @Test
  void aCommittedSnapshotIsTheLatestWithItsMetadataAcrossReloads() throws Exception {
    FileSnapshotStore s = loaded();
    assertNull(await(s.latest()));
    SnapshotWriter w = await(s.create(partial(10, 2)));
    assertEquals(partial(10, 2), w.meta());
    await(w.write(0, chunk(0, 1000)));
    await(w.stream().write(chunk(1, 500)));
    assertEquals(1500, w.offset());
    SnapshotMeta committed = await(w.commit());

    assertEquals(10, committed.index());
    assertEquals(2, committed.term());
    assertEquals(CONFIGURATION, committed.configuration());
    assertEquals("127.0.0.1:7002", committed.configuration().addresses().get("n2"));
    assertEquals(new String(SESSIONS), new String(committed.sessions()));
    assertEquals(1500, committed.size());
    assertEquals(crc32c(0, 2, 1000, 500), committed.checksum());
    assertEquals(committed, await(s.latest()));
    assertEquals(List.of(SnapshotFileFormat.fileName(10, 2)), fileNames());
    await(s.close());

    FileSnapshotStore reloaded = loaded();
    assertEquals(committed, await(reloaded.latest()));
    Buffer read = await(collect(reloaded, committed));
    assertEquals(Buffer.buffer().appendBuffer(chunk(0, 1000)).appendBuffer(chunk(1, 500)), read);
  }

  @Test
  void aSnapshotOfManyMegabytesIsStreamedInAndOutWithBackPressure() throws Exception {
    FileSnapshotStore leader = loaded();
    SnapshotWriter w = await(leader.create(partial(5_000, 7)));
    int chunks = 400; // 25 MiB, never one buffer
    long maxOutstanding = await(on(leader, () -> produce(w.stream(), chunks, CHUNK)));
    assertTrue(maxOutstanding <= FileSnapshotStore.DEFAULT_WRITE_QUEUE_MAX_SIZE + CHUNK,
        "bytes in flight at once: " + maxOutstanding);
    SnapshotMeta meta = await(w.commit());
    assertEquals((long) chunks * CHUNK, meta.size());

    // Restore-style read, one chunk at a time on demand.
    long[] crcAndLength = await(on(leader, () -> consumeOnDemand(leader, meta)));
    assertEquals(meta.size(), crcAndLength[1]);
    assertEquals(crc32(chunks, CHUNK), crcAndLength[0]);

    // Chunked transfer to a follower, in 1 MiB chunks.
    FileSnapshotStore follower = loaded(tmp.resolve("n2").resolve(FileSnapshotStore.DIRECTORY));
    SnapshotWriter received = await(follower.create(meta));
    transfer(leader, meta, received, 1 << 20, -1);
    assertEquals(meta, await(received.commit()));
    assertEquals(meta, await(follower.latest()));
  }

  @Test
  void theStreamSignalsAFullQueueAndDrains() throws Exception {
    FileSnapshotStore s = loaded();
    SnapshotWriter w = await(s.create(partial(3, 1)));
    boolean[] observed = await(on(s, () -> {
      WriteStream<Buffer> out = w.stream().setWriteQueueMaxSize(2 * CHUNK);
      boolean before = out.writeQueueFull();
      out.write(chunk(0, CHUNK));
      out.write(chunk(1, CHUNK));
      boolean full = out.writeQueueFull();
      Promise<boolean[]> drained = Promise.promise();
      out.drainHandler(v -> drained.tryComplete(new boolean[] {before, full,
          out.writeQueueFull()}));
      return drained.future();
    }));
    assertFalse(observed[0], "empty queue");
    assertTrue(observed[1], "full after the maximum was written");
    assertFalse(observed[2], "not full when drained");
    await(w.stream().end());
    assertInstanceOf(IllegalStateException.class, failure(w.stream().write(chunk(2, 10))));
    assertEquals(2L * CHUNK, await(w.commit()).size());
  }

  @Test
  void createOnTheStoresContextCompletesAtOnceSoTheCutIsTakenBetweenTwoApplies()
      throws Exception {
    FileSnapshotStore s = loaded();
    SnapshotMeta meta = await(on(s, () -> {
      Future<SnapshotWriter> created = s.create(partial(5, 1));
      if (!created.succeeded()) {
        return Future.failedFuture(new AssertionError("create() was not complete at once"));
      }
      SnapshotWriter w = created.result();
      w.stream().write(chunk(0, 100));
      return w.commit();
    }));
    assertEquals(100, meta.size());
    assertEquals(crc32c(0, 1, 100), meta.checksum());
  }

  @Test
  void aTemporaryFileThatCannotBeCreatedFailsTheWritesAndTheCommit() throws Exception {
    FileSnapshotStore s = loaded();
    Files.delete(dir);
    SnapshotWriter w = await(s.create(partial(5, 1)));
    Throwable write = failure(w.write(0, chunk(0, 100)));
    assertTrue(write.getMessage().contains("creating the snapshot file"), write.getMessage());
    Throwable commit = failure(w.commit());
    assertTrue(commit.getMessage().contains("creating the snapshot file"), commit.getMessage());
    assertNull(await(s.latest()));
  }

  // =====================================================================================
  // Crashes
  // =====================================================================================

  @Test
  void aCrashInTheMiddleOfASnapshotLeavesThePreviousOneUsable() throws Exception {
    FileSnapshotStore before = loaded();
    SnapshotMeta previous = commit(before, 100, 3, 3);
    SnapshotWriter half = await(before.create(partial(200, 3)));
    for (int i = 0; i < 5; i++) {
      await(half.write((long) i * CHUNK, chunk(i, CHUNK)));
    }
    assertEquals(2, fileNames().size(), "the committed snapshot and a temporary file");
    // Another leftover: a temporary file cut short by a crash of an earlier process.
    Files.write(dir.resolve(SnapshotFileFormat.tmpName(300, 4, 0)), new byte[123]);

    // The process "crashes" here: a new store opens the directory, as after a restart.
    FileSnapshotStore after = loaded();
    assertEquals(previous, await(after.latest()));
    assertEquals(List.of(SnapshotFileFormat.fileName(100, 3)), fileNames(),
        "temporary files are deleted");
    Buffer data = await(collect(after, previous));
    assertEquals(3L * CHUNK, data.length());
    assertEquals(previous.checksum(), crc32c(data));
  }

  @Test
  void aCrashAfterTheRenameBeforeTheOldSnapshotIsDeletedKeepsTheNewest() throws Exception {
    FileSnapshotStore s = loaded();
    commit(s, 10, 1, 1);
    Path old = dir.resolve(SnapshotFileFormat.fileName(10, 1));
    Path saved = tmp.resolve("saved");
    Files.copy(old, saved);
    SnapshotMeta newest = commit(s, 20, 1, 2);
    assertFalse(Files.exists(old), "the older snapshot is deleted after the commit");
    await(s.close());
    Files.copy(saved, old, StandardCopyOption.REPLACE_EXISTING);

    FileSnapshotStore reloaded = loaded();
    assertEquals(newest, await(reloaded.latest()));
    assertEquals(List.of(SnapshotFileFormat.fileName(20, 1)), fileNames());
  }

  // =====================================================================================
  // Corruption
  // =====================================================================================

  @Test
  void corruptDataFailsTheReaderWithoutEndingIt() throws Exception {
    FileSnapshotStore s = loaded();
    SnapshotMeta meta = commit(s, 10, 1, 3);
    await(s.close());
    Path file = dir.resolve(SnapshotFileFormat.fileName(10, 1));
    flipBit(file, 2L * CHUNK + 17);

    FileSnapshotStore reloaded = loaded();
    assertEquals(meta, await(reloaded.latest()), "the metadata is intact");
    Throwable e = failure(collect(reloaded, meta));
    assertInstanceOf(CorruptSnapshotException.class, e);
    assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
    assertTrue(e.getMessage().contains("fails its checksum"), e.getMessage());
  }

  @Test
  void corruptOrTruncatedMetadataFailsTheLoadClearly() throws Exception {
    FileSnapshotStore s = loaded();
    SnapshotMeta meta = commit(s, 10, 1, 2);
    await(s.close());
    Path file = dir.resolve(SnapshotFileFormat.fileName(10, 1));
    byte[] intact = Files.readAllBytes(file);
    flipBit(file, meta.size() + 20);

    Throwable e = failure(newStore().load());
    assertInstanceOf(CorruptSnapshotException.class, e);
    assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
    assertTrue(e.getMessage().contains("metadata fails its checksum"), e.getMessage());
    assertTrue(e.getMessage().contains("must not restore from it"), e.getMessage());

    Files.write(file, java.util.Arrays.copyOf(intact, intact.length - 3));
    Throwable cut = failure(newStore().load());
    assertInstanceOf(CorruptSnapshotException.class, cut);
    assertTrue(cut.getMessage().contains("footer"), cut.getMessage());

    Files.write(file, intact);
    Files.move(file, dir.resolve(SnapshotFileFormat.fileName(11, 1)));
    Throwable renamed = failure(newStore().load());
    assertInstanceOf(CorruptSnapshotException.class, renamed);
    assertTrue(renamed.getMessage().contains("metadata is for index 10"), renamed.getMessage());
  }

  // =====================================================================================
  // Receiving a snapshot in chunks
  // =====================================================================================

  @Test
  void aChunkLostInMidTransferIsResumedFromTheReceiversOffset() throws Exception {
    FileSnapshotStore leader = loaded();
    SnapshotMeta meta = commit(leader, 50, 2, 10);
    FileSnapshotStore follower = loaded(tmp.resolve("n2").resolve(FileSnapshotStore.DIRECTORY));
    SnapshotWriter w = await(follower.create(meta));
    transfer(leader, meta, w, 100_000, 3);
    assertEquals(meta, await(w.commit()));
    Buffer data = await(collect(follower, meta));
    assertEquals(meta.checksum(), crc32c(data));
  }

  @Test
  void chunksAtTheWrongOffsetOrPastTheSizeAreRefusedWithoutHarm() throws Exception {
    FileSnapshotStore leader = loaded();
    SnapshotMeta meta = commit(leader, 50, 2, 3);
    FileSnapshotStore follower = loaded(tmp.resolve("n2").resolve(FileSnapshotStore.DIRECTORY));
    SnapshotWriter w = await(follower.create(meta));
    await(w.write(0, chunk(0, CHUNK)));

    Throwable gap = failure(w.write(2L * CHUNK, chunk(2, CHUNK)));
    assertInstanceOf(SnapshotOffsetException.class, gap);
    assertEquals(CHUNK, ((SnapshotOffsetException) gap).expectedOffset());
    Throwable duplicate = failure(w.write(0, chunk(0, CHUNK)));
    assertEquals(CHUNK, ((SnapshotOffsetException) duplicate).expectedOffset());
    assertTrue(duplicate.getMessage().contains("must start there"), duplicate.getMessage());
    Throwable tooLong = failure(w.write(CHUNK, Buffer.buffer(new byte[2 * CHUNK + 1])));
    assertInstanceOf(IllegalArgumentException.class, tooLong);
    assertEquals(CHUNK, w.offset());

    await(w.write(CHUNK, chunk(1, CHUNK)));
    await(w.write(2L * CHUNK, chunk(2, CHUNK)));
    assertEquals(meta, await(w.commit()));
  }

  @Test
  void receivedDataThatDoesNotMatchTheSendersMetaIsDiscardedAtCommit() throws Exception {
    FileSnapshotStore leader = loaded();
    SnapshotMeta meta = commit(leader, 50, 2, 2);
    FileSnapshotStore follower = loaded(tmp.resolve("n2").resolve(FileSnapshotStore.DIRECTORY));
    SnapshotMeta kept = commit(follower, 20, 1, 1);
    Path followerDir = tmp.resolve("n2").resolve(FileSnapshotStore.DIRECTORY);

    SnapshotWriter damaged = await(follower.create(meta));
    await(damaged.write(0, chunk(0, CHUNK)));
    await(damaged.write(CHUNK, chunk(99, CHUNK)));
    Throwable e = failure(damaged.commit());
    assertInstanceOf(CorruptSnapshotException.class, e);
    assertTrue(e.getMessage().contains("does not match the sender's"), e.getMessage());

    SnapshotWriter shortOne = await(follower.create(meta));
    await(shortOne.write(0, chunk(0, CHUNK)));
    Throwable missing = failure(shortOne.commit());
    assertTrue(missing.getMessage().contains(CHUNK + " bytes"), missing.getMessage());

    assertEquals(kept, await(follower.latest()));
    assertEquals(List.of(SnapshotFileFormat.fileName(20, 1)), fileNames(followerDir));
  }

  // =====================================================================================
  // Ordering, durability, failures
  // =====================================================================================

  @Test
  void onlyASnapshotNewerThanTheLatestIsAccepted() throws Exception {
    FileSnapshotStore s = loaded();
    commit(s, 10, 1, 1);
    Throwable old = failure(s.create(partial(10, 1)));
    assertInstanceOf(StorageException.class, old);
    assertTrue(old.getMessage().contains("not newer than the latest snapshot, at index 10"),
        old.getMessage());

    SnapshotWriter slow = await(s.create(partial(20, 1)));
    SnapshotWriter fast = await(s.create(partial(30, 2)));
    await(slow.write(0, chunk(0, 100)));
    await(fast.write(0, chunk(1, 100)));
    SnapshotMeta newest = await(fast.commit());
    Throwable stale = failure(slow.commit());
    assertTrue(stale.getMessage().contains("not newer than the latest snapshot, at index 30"),
        stale.getMessage());
    assertEquals(newest, await(s.latest()));
    assertEquals(List.of(SnapshotFileFormat.fileName(30, 2)), fileNames());
  }

  @Test
  void aCommitIsDurableAndInPlaceBeforeTheOlderSnapshotIsDeleted() throws Exception {
    FaultyStorageFileSystem faulty = new FaultyStorageFileSystem(new VertxStorageFileSystem(vertx));
    FileSnapshotStore s = loaded(dir, faulty);
    commit(s, 10, 1, 1);
    SnapshotWriter w = await(s.create(partial(20, 1)));
    String tmpName = SnapshotFileFormat.tmpName(20, 1, 1);
    await(w.write(0, chunk(0, CHUNK)));
    int before = faulty.events().size();
    await(w.commit());
    List<String> events = faulty.events().subList(before, faulty.events().size());
    assertEquals(List.of("write " + tmpName, "force " + tmpName, "move " + tmpName, "fsyncdir",
        "delete " + SnapshotFileFormat.fileName(10, 1)), events,
        "metadata written, file fsynced, renamed, directory fsynced, then the old one deleted");
  }

  @Test
  void aFailedFsyncFailsTheCommitAndKeepsThePreviousSnapshot() throws Exception {
    FaultyStorageFileSystem faulty = new FaultyStorageFileSystem(new VertxStorageFileSystem(vertx));
    FileSnapshotStore s = loaded(dir, faulty);
    SnapshotMeta previous = commit(s, 10, 1, 1);
    SnapshotWriter w = await(s.create(partial(20, 1)));
    await(w.write(0, chunk(0, CHUNK)));
    faulty.failNextFsync();
    Throwable e = failure(w.commit());
    assertTrue(e.getMessage().contains("simulated fsync failure"), e.getMessage());
    assertEquals(previous, await(s.latest()));
    assertEquals(List.of(SnapshotFileFormat.fileName(10, 1)), fileNames());
    assertEquals(previous.checksum(), crc32c(await(collect(s, previous))));
    // The store goes on: the next snapshot commits.
    assertEquals(30, commit(s, 30, 1, 1).index());
  }

  @Test
  void aFailedWriteFailsTheWriterAndAbortDeletesItsFile() throws Exception {
    FaultyStorageFileSystem faulty = new FaultyStorageFileSystem(new VertxStorageFileSystem(vertx));
    FileSnapshotStore s = loaded(dir, faulty);
    SnapshotWriter w = await(s.create(partial(20, 1)));
    List<Throwable> reported = Collections.synchronizedList(new ArrayList<>());
    await(on(s, () -> {
      w.stream().exceptionHandler(reported::add);
      return Future.succeededFuture();
    }));
    await(w.write(0, chunk(0, 100)));
    faulty.diskFull(true);
    Throwable full = failure(w.write(100, chunk(1, 100)));
    assertTrue(full.getMessage().contains("No space left on device"), full.getMessage());
    faulty.diskFull(false);
    assertEquals(1, reported.size());
    assertTrue(failure(w.write(200, chunk(2, 100))).getMessage().contains("No space left"));
    assertTrue(failure(w.commit()).getMessage().contains("No space left"));
    await(w.abort());
    assertEquals(List.of(), fileNames());
    assertNull(await(s.latest()));
  }

  @Test
  void abortDeletesTheTemporaryFileAndACommittedWriterCannotBeAborted() throws Exception {
    FileSnapshotStore s = loaded();
    SnapshotWriter w = await(s.create(partial(20, 1)));
    await(w.write(0, chunk(0, 100)));
    assertEquals(1, fileNames().size());
    await(w.abort());
    await(w.abort());
    assertEquals(List.of(), fileNames());
    assertInstanceOf(IllegalStateException.class, failure(w.write(100, chunk(1, 1))));
    assertInstanceOf(IllegalStateException.class, failure(w.commit()));

    SnapshotWriter committed = await(s.create(partial(30, 1)));
    await(committed.commit());
    assertInstanceOf(IllegalStateException.class, failure(committed.abort()));
    assertInstanceOf(IllegalStateException.class, failure(committed.commit()));
  }

  @Test
  void anEmptySnapshotCommitsAndReadsBack() throws Exception {
    FileSnapshotStore s = loaded();
    SnapshotMeta meta = await(await(s.create(partial(1, 0))).commit());
    assertEquals(0, meta.size());
    assertEquals(0, await(collect(s, meta)).length());
    assertEquals(0, await(s.readChunk(meta, 0, 10)).length());
  }

  // =====================================================================================
  // Readers of a replaced snapshot
  // =====================================================================================

  @Test
  void aReplacedSnapshotRefusesNewReadsWhileOpenReadersFinish() throws Exception {
    FileSnapshotStore s = loaded();
    SnapshotMeta old = commit(s, 10, 1, 4);
    assertEquals(CHUNK, await(s.readChunk(old, 0, CHUNK)).length());
    SnapshotReader reader = await(s.open(old));
    CRC32C crc = new CRC32C();
    Promise<Void> ended = Promise.promise();
    await(on(s, () -> {
      reader.pause();
      reader.handler(b -> crc.update(b.getBytes()));
      reader.exceptionHandler(ended::tryFail);
      reader.endHandler(ended::tryComplete);
      return Future.succeededFuture();
    }));

    SnapshotMeta newer = commit(s, 20, 1, 1);
    Path oldFile = dir.resolve(SnapshotFileFormat.fileName(10, 1));
    assertTrue(Files.exists(oldFile), "kept while a reader has it open");
    Throwable refused = failure(s.readChunk(old, CHUNK, CHUNK));
    assertTrue(refused.getMessage().contains("not the latest snapshot: the latest is at index 20"),
        refused.getMessage());
    assertInstanceOf(StorageException.class, failure(s.open(old)));

    await(on(s, () -> {
      reader.resume();
      return ended.future();
    }));
    assertEquals(old.checksum(), (int) crc.getValue());
    await(eventually(vertx, () -> !Files.exists(oldFile)));
    assertEquals(newer, await(s.latest()));
  }

  @Test
  void aReaderClosedEarlyReleasesTheFile() throws Exception {
    FileSnapshotStore s = loaded();
    SnapshotMeta old = commit(s, 10, 1, 4);
    SnapshotReader reader = await(s.open(old));
    await(reader.close());
    commit(s, 20, 1, 1);
    assertFalse(Files.exists(dir.resolve(SnapshotFileFormat.fileName(10, 1))));
  }

  @Test
  void readChunkChecksItsRange() throws Exception {
    FileSnapshotStore s = loaded();
    SnapshotMeta meta = commit(s, 10, 1, 1);
    assertEquals(100, await(s.readChunk(meta, CHUNK - 100, 1000)).length());
    assertEquals(0, await(s.readChunk(meta, CHUNK, 1000)).length());
    assertInstanceOf(IllegalArgumentException.class, failure(s.readChunk(meta, CHUNK + 1, 1)));
    assertInstanceOf(IllegalArgumentException.class, failure(s.readChunk(meta, -1, 1)));
    assertInstanceOf(IllegalArgumentException.class, failure(s.readChunk(meta, 0, 0)));
    assertEquals(chunk(0, CHUNK).getBuffer(10, 30), await(s.readChunk(meta, 10, 20)));
  }

  // =====================================================================================
  // Lifecycle
  // =====================================================================================

  @Test
  void callsBeforeLoadOrAfterCloseAreRefusedAndCloseAbortsWriters() throws Exception {
    FileSnapshotStore s = newStore();
    assertInstanceOf(IllegalStateException.class, failure(s.latest()));
    assertInstanceOf(IllegalStateException.class, failure(s.create(partial(1, 1))));
    await(load(s));
    assertInstanceOf(IllegalStateException.class, failure(s.load()));
    SnapshotWriter w = await(s.create(partial(5, 1)));
    await(w.write(0, chunk(0, 10)));
    await(s.close());
    assertEquals(List.of(), fileNames(), "close aborts the uncommitted writer");
    assertInstanceOf(IllegalStateException.class, failure(s.latest()));
    assertInstanceOf(IllegalStateException.class, failure(s.create(partial(6, 1))));
    assertInstanceOf(IllegalStateException.class, failure(w.commit()));
  }

  @Test
  void fileNamesAreIndexAndTermZeroPadded() {
    assertEquals("snapshot-00000000000000000012-00000000000000000003.snap",
        SnapshotFileFormat.fileName(12, 3));
    assertEquals(new SnapshotFileFormat.Name(12, 3),
        SnapshotFileFormat.parse("snapshot-00000000000000000012-00000000000000000003.snap"));
    assertNull(SnapshotFileFormat.parse("snapshot-00000000000000000012-0000000000000000003.snap"));
    assertNull(SnapshotFileFormat.parse("snapshot-00000000000000000000-00000000000000000003.snap"));
    assertNull(SnapshotFileFormat.parse(SnapshotFileFormat.tmpName(12, 3, 0)));
    assertTrue(SnapshotFileFormat.isTmp(SnapshotFileFormat.tmpName(12, 3, 0)));
    assertFalse(SnapshotFileFormat.isTmp("lock"));
  }

  @Test
  void metaValidatesAndComparesByContent() {
    SnapshotMeta a = SnapshotMeta.of(5, 1, CONFIGURATION, new byte[] {1, 2});
    assertEquals(a, SnapshotMeta.of(5, 1, CONFIGURATION, new byte[] {1, 2}));
    assertNotEquals(a, SnapshotMeta.of(5, 1, CONFIGURATION, new byte[] {1, 3}));
    assertFalse(a.complete());
    assertTrue(a.withData(10, 7).complete());
    assertNotEquals(a, a.withData(10, 7));
    byte[] sessions = a.sessions();
    sessions[0] = 9;
    assertEquals(1, a.sessions()[0], "the meta's bytes cannot be changed from outside");
    assertTrue(a.toString().contains("size=unknown"), a.toString());
    assertInstanceOf(IllegalArgumentException.class, failureOf(() -> SnapshotMeta.of(0, 1,
        CONFIGURATION, new byte[0])));
    assertInstanceOf(IllegalArgumentException.class, failureOf(() -> a.withData(-1, 0)));
  }

  // =====================================================================================
  // Helpers
  // =====================================================================================

  private static Throwable failureOf(Runnable r) {
    try {
      r.run();
    } catch (RuntimeException e) {
      return e;
    }
    throw new AssertionError("expected an exception");
  }

  private FileSnapshotStore newStore() {
    return newStore(dir, new VertxStorageFileSystem(vertx));
  }

  private FileSnapshotStore newStore(Path directory, StorageFileSystem fs) {
    FileSnapshotStore s = new FileSnapshotStore(vertx, directory, fs);
    stores.add(s);
    return s;
  }

  private FileSnapshotStore loaded() throws Exception {
    return loaded(dir);
  }

  private FileSnapshotStore loaded(Path directory) throws Exception {
    return loaded(directory, new VertxStorageFileSystem(vertx));
  }

  private FileSnapshotStore loaded(Path directory, StorageFileSystem fs) throws Exception {
    FileSnapshotStore s = newStore(directory, fs);
    await(load(s));
    return s;
  }

  /** Loads the store on a context of its own, kept for {@link #on}. */
  private Future<SnapshotMeta> load(FileSnapshotStore s) {
    Context context = vertx.getOrCreateContext();
    contexts.put(s, context);
    Promise<SnapshotMeta> loaded = Promise.promise();
    context.runOnContext(v -> s.load().onComplete(loaded));
    return loaded.future();
  }

  /** Runs an action on the store's context, as the node would. */
  private <T> Future<T> on(FileSnapshotStore s, Supplier<Future<T>> action) {
    Promise<T> result = Promise.promise();
    contexts.get(s).runOnContext(v -> action.get().onComplete(result));
    return result.future();
  }

  private static SnapshotMeta partial(long index, long term) {
    return SnapshotMeta.of(index, term, CONFIGURATION, SESSIONS);
  }

  /** Commits a snapshot of {@code chunks} chunks of {@link #CHUNK} bytes. */
  private SnapshotMeta commit(FileSnapshotStore s, long index, long term, int chunks)
      throws Exception {
    SnapshotWriter w = await(s.create(partial(index, term)));
    for (int i = 0; i < chunks; i++) {
      await(w.write((long) i * CHUNK, chunk(i, CHUNK)));
    }
    return await(w.commit());
  }

  /** @return deterministic bytes for chunk number n */
  private static Buffer chunk(long n, int size) {
    byte[] b = new byte[size];
    new Random(n).nextBytes(b);
    return Buffer.buffer(b);
  }

  private static int crc32c(long firstChunk, int count, int... sizes) {
    CRC32C crc = new CRC32C();
    for (int i = 0; i < count; i++) {
      crc.update(chunk(firstChunk + i, sizes[i]).getBytes());
    }
    return (int) crc.getValue();
  }

  private static int crc32c(Buffer data) {
    CRC32C crc = new CRC32C();
    crc.update(data.getBytes());
    return (int) crc.getValue();
  }

  /** CRC32 (not the store's CRC32C) of chunks 0 .. count-1. */
  private static long crc32(int count, int size) {
    CRC32 crc = new CRC32();
    for (int i = 0; i < count; i++) {
      crc.update(chunk(i, size).getBytes());
    }
    return crc.getValue();
  }

  /**
   * Writes chunks 0 .. count-1 into the stream, respecting its back-pressure, then ends it. Runs
   * on the store's context.
   *
   * @return the most bytes that were written but not yet completed at any time
   */
  private static Future<Long> produce(WriteStream<Buffer> out, int count, int size) {
    Promise<Long> done = Promise.promise();
    long[] outstanding = new long[2];
    int[] next = new int[1];
    Runnable[] step = new Runnable[1];
    step[0] = () -> {
      while (next[0] < count) {
        if (out.writeQueueFull()) {
          out.drainHandler(v -> step[0].run());
          return;
        }
        Buffer b = chunk(next[0]++, size);
        outstanding[0] += size;
        outstanding[1] = Math.max(outstanding[1], outstanding[0]);
        out.write(b).onComplete(ar -> {
          outstanding[0] -= size;
          if (ar.failed()) {
            done.tryFail(ar.cause());
          }
        });
      }
      out.end().onComplete(ar -> {
        if (ar.succeeded()) {
          done.tryComplete(outstanding[1]);
        } else {
          done.tryFail(ar.cause());
        }
      });
    };
    step[0].run();
    return done.future();
  }

  /**
   * Reads a snapshot one chunk per fetch, asking for the next one from a later event-loop turn.
   *
   * @return the CRC32 and the length of what was read
   */
  private Future<long[]> consumeOnDemand(FileSnapshotStore s, SnapshotMeta meta) {
    Context context = contexts.get(s);
    return s.open(meta).compose(reader -> {
      Promise<long[]> done = Promise.promise();
      CRC32 crc = new CRC32();
      long[] length = new long[1];
      reader.pause();
      reader.exceptionHandler(done::tryFail);
      reader.endHandler(v -> done.tryComplete(new long[] {crc.getValue(), length[0]}));
      reader.handler(b -> {
        if (b.length() > FileSnapshotStore.READ_CHUNK) {
          done.tryFail(new AssertionError("a chunk of " + b.length() + " bytes"));
        }
        crc.update(b.getBytes());
        length[0] += b.length();
        context.runOnContext(v -> reader.fetch(1));
      });
      reader.fetch(1);
      return done.future();
    });
  }

  /** Reads a whole snapshot through a reader, into one buffer (small snapshots only). */
  private Future<Buffer> collect(FileSnapshotStore s, SnapshotMeta meta) {
    return on(s, () -> s.open(meta).compose(reader -> {
      Promise<Buffer> done = Promise.promise();
      Buffer all = Buffer.buffer();
      reader.exceptionHandler(done::tryFail);
      reader.endHandler(v -> done.tryComplete(all));
      reader.handler(all::appendBuffer);
      return done.future();
    }));
  }

  /**
   * Sends a snapshot from one store to a writer in chunks, as InstallSnapshot would, resuming
   * from the receiver's offset when a chunk is refused.
   *
   * @param lose the number of a chunk to lose on the way once, or -1
   */
  private static void transfer(FileSnapshotStore from, SnapshotMeta meta, SnapshotWriter to,
      int chunkSize, int lose) throws Exception {
    long offset = 0;
    int sent = 0;
    int refusals = 0;
    while (offset < meta.size()) {
      Buffer chunk = await(from.readChunk(meta, offset, chunkSize));
      long at = offset;
      offset += chunk.length();
      if (sent++ == lose) {
        continue; // lost on the way
      }
      Throwable refused = null;
      try {
        await(to.write(at, chunk));
      } catch (AssertionError e) {
        refused = e.getCause();
      }
      if (refused != null) {
        assertInstanceOf(SnapshotOffsetException.class, refused);
        offset = ((SnapshotOffsetException) refused).expectedOffset();
        refusals++;
      }
    }
    assertEquals(lose >= 0 ? 1 : 0, refusals);
    assertEquals(meta.size(), to.offset());
  }

  private List<String> fileNames() throws IOException {
    return fileNames(dir);
  }

  private static List<String> fileNames(Path directory) throws IOException {
    try (Stream<Path> files = Files.list(directory)) {
      return files.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  private static void flipBit(Path file, long offset) throws IOException {
    try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
      raf.seek(offset);
      int b = raf.read();
      raf.seek(offset);
      raf.write(b ^ 0x10);
    }
  }
}
