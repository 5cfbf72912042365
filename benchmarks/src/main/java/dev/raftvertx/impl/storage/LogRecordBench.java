package dev.raftvertx.impl.storage;

import dev.raftvertx.core.EntryType;
import dev.raftvertx.core.LogEntry;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The log record format in memory: encoding records (what every append does before its write) and
 * the recovery scan over a buffer of records (what {@link LogRecovery} does per record: check
 * magic, version, lengths and CRC32C, read index and term, decode the entry). Times are per
 * record.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Xms512m", "-Xmx512m"})
public class LogRecordBench {

  static final int RECORDS = 10_000;

  /** Bytes per entry: a key-value put of a 100-byte value is about 140 bytes of JSON. */
  @Param({"140"})
  int dataBytes;

  final LogRecordFormat format = new LogRecordFormat();
  List<LogEntry> entries;
  ByteBuffer out;
  ByteBuffer records;
  int recordsLength;

  @Setup
  public void setup() {
    Random r = new Random(1);
    entries = new ArrayList<>();
    for (int i = 0; i < RECORDS; i++) {
      byte[] data = new byte[dataBytes];
      r.nextBytes(data);
      entries.add(new LogEntry(i + 1, 3, EntryType.COMMAND, 0, 0, 1_700_000_000_000L, data));
    }
    int size = 0;
    for (LogEntry e : entries) {
      size += (int) LogRecordFormat.recordSize(e);
    }
    out = ByteBuffer.allocate(size);
    records = ByteBuffer.allocate(size);
    int off = 0;
    for (LogEntry e : entries) {
      off = format.encode(e, records, off);
    }
    recordsLength = off;
  }

  @Benchmark
  @OperationsPerInvocation(RECORDS)
  public int encode() {
    int off = 0;
    for (LogEntry e : entries) {
      off = format.encode(e, out, off);
    }
    return off;
  }

  @Benchmark
  @OperationsPerInvocation(RECORDS)
  public List<LogEntry> scan() {
    List<LogEntry> result = new ArrayList<>(RECORDS);
    int off = 0;
    long expected = 1;
    while (off < recordsLength) {
      int size = format.check(records, off, recordsLength - off, recordsLength - off);
      if (size <= 0 || LogRecordFormat.index(records, off) != expected++
          || LogRecordFormat.term(records, off) != 3) {
        throw new IllegalStateException("bad record at " + off + ": " + format.lastProblem());
      }
      result.add(LogRecordFormat.decode(records, off));
      off += size;
    }
    return result;
  }
}
