package dev.raftvertx.impl.transport;

import dev.raftvertx.core.EntryType;
import dev.raftvertx.core.LogEntry;
import dev.raftvertx.core.Message;
import dev.raftvertx.core.Message.AppendEntriesRequest;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Wire encoding and decoding of an AppendEntriesRequest as the TCP bridge transport does it: the
 * message to JSON ({@link RaftWire#encode}) into a bridge frame ({@link BridgeFrames#send}), and
 * back: frame bytes to JSON (what the bridge parses) to the message ({@link RaftWire#decode},
 * which validates everything); and the binary form the transport actually uses for AppendEntries
 * ({@link RaftWire#encodeBinary}, {@link RaftWire#decodeBinary}). The entries blob alone is
 * measured too.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Xms512m", "-Xmx512m"})
public class RaftWireBench {

  /** Entries per AppendEntriesRequest. */
  @Param({"1", "16", "256"})
  int entries;

  /** Bytes per entry: a key-value put of a 100-byte value is about 140 bytes of JSON. */
  @Param({"140"})
  int dataBytes;

  RaftWire wire;
  AppendEntriesRequest request;
  String address;
  Buffer frameJson;
  Buffer binary;
  byte[] blob;

  @Setup
  public void setup() {
    wire = new RaftWire("bench");
    address = RaftWire.rpcAddress("bench", "n2");
    Random r = new Random(1);
    List<LogEntry> list = new ArrayList<>();
    for (int i = 0; i < entries; i++) {
      byte[] data = new byte[dataBytes];
      r.nextBytes(data);
      list.add(new LogEntry(100_001 + i, 7, EntryType.COMMAND, 0, 0, 1_700_000_000_000L, data));
    }
    request = new AppendEntriesRequest(7, "n1", "n2", 100_000, 7, list, 99_990, 42);
    Buffer frame = BridgeFrames.send(address, wire.encode(request));
    frameJson = frame.getBuffer(4, frame.length());
    blob = RaftWire.packEntries(list);
    binary = wire.encodeBinary(request);
  }

  @Benchmark
  public Buffer encodeFrame() {
    return BridgeFrames.send(address, wire.encode(request));
  }

  @Benchmark
  public Message decodeFrame() {
    JsonObject frame = frameJson.toJsonObject();
    return wire.decode(frame.getJsonObject("body"));
  }

  /** The binary form the transport sends AppendEntries in, framed. */
  @Benchmark
  public Buffer encodeBinaryFrame() {
    return BridgeFrames.frame(wire.encodeBinary(request));
  }

  @Benchmark
  public Message decodeBinary() {
    return wire.decodeBinary(binary);
  }

  @Benchmark
  public byte[] packEntries() {
    return RaftWire.packEntries(request.entries());
  }

  @Benchmark
  public List<LogEntry> unpackEntries() {
    return RaftWire.unpackEntries(blob, 100_000, 7, 7);
  }
}
