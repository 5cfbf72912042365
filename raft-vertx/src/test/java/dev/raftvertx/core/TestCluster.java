package dev.raftvertx.core;

import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.function.Predicate;
import java.util.function.UnaryOperator;

/**
 * A cluster of cores in one thread, stepped by hand (etcd's test {@code network}). Storage is
 * instant: every write is durable as soon as the core hands it out. Messages queue until
 * {@link #deliver()} or {@link #stabilize()}; filters drop chosen messages.
 */
final class TestCluster {

  final Map<String, RaftCore> nodes = new LinkedHashMap<>();
  final Map<String, HardState> durableHardState = new HashMap<>();
  final Map<String, List<LogEntry>> durableLog = new HashMap<>();
  final Map<String, List<LogEntry>> applied = new HashMap<>();
  final Map<String, List<ReadState>> reads = new HashMap<>();
  final Map<String, List<Long>> failedReads = new HashMap<>();
  final Map<String, List<Ready.Forwarded>> forwarded = new HashMap<>();
  /** Snapshots each node's core asked to restore, in order. */
  final Map<String, List<Ready.SnapshotRestore>> restored = new HashMap<>();
  private final ArrayDeque<Message> queue = new ArrayDeque<>();
  private final List<Predicate<Message>> dropFilters = new ArrayList<>();
  private final List<UnaryOperator<Message>> mutators = new ArrayList<>();
  private final Set<String> isolated = new HashSet<>();
  private final CoreConfig template;
  private final long seed;
  /** Messages delivered so far. */
  int delivered;

  TestCluster(CoreConfig template, long seed) {
    this.template = template;
    this.seed = seed;
  }

  /** A cluster of the given voters, each bootstrapped with the same configuration entry. */
  static TestCluster of(String... ids) {
    return of(CoreConfig.defaults("x").withElectionGuards(false, false), ids);
  }

  static TestCluster of(CoreConfig template, String... ids) {
    TestCluster c = new TestCluster(template, 1);
    Configuration conf = Configuration.of(Set.of(ids));
    for (String id : ids) {
      c.add(id, HardState.INITIAL, List.of(RaftCore.bootstrapEntry(conf)));
    }
    return c;
  }

  /**
   * A cluster whose logs are given by term per index, as in the paper's figures (index 1 is the
   * first entry; the configuration is the core's base configuration, not a log entry).
   */
  static TestCluster withLogs(CoreConfig template, Map<String, long[]> termsById,
      Map<String, Long> currentTerms) {
    TestCluster c = new TestCluster(template, 1);
    Configuration conf = Configuration.of(termsById.keySet());
    for (Map.Entry<String, long[]> e : termsById.entrySet()) {
      List<LogEntry> entries = entries(e.getValue());
      long term = currentTerms.getOrDefault(e.getKey(),
          entries.isEmpty() ? 0 : entries.get(entries.size() - 1).term());
      c.addWithBase(e.getKey(), new HardState(term, null), conf, entries);
    }
    return c;
  }

  static List<LogEntry> entries(long... terms) {
    List<LogEntry> list = new ArrayList<>();
    for (int i = 0; i < terms.length; i++) {
      list.add(new LogEntry(i + 1, terms[i], EntryType.COMMAND, 0, 0, 0,
          ("e" + (i + 1) + "t" + terms[i]).getBytes(StandardCharsets.UTF_8)));
    }
    return list;
  }

  private final Map<String, Configuration> bases = new HashMap<>();

  void add(String id, HardState hs, List<LogEntry> log) {
    durableHardState.put(id, hs);
    durableLog.put(id, new ArrayList<>(log));
    applied.put(id, new ArrayList<>());
    reads.put(id, new ArrayList<>());
    failedReads.put(id, new ArrayList<>());
    forwarded.put(id, new ArrayList<>());
    restored.put(id, new ArrayList<>());
    nodes.put(id, newCore(id));
  }

  void addWithBase(String id, HardState hs, Configuration base, List<LogEntry> log) {
    bases.put(id, base);
    add(id, hs, log);
  }

  private RaftCore newCore(String id) {
    CoreConfig cfg = new CoreConfig(id, template.electionTicks(), template.heartbeatTicks(),
        template.preVote(), template.checkQuorum(), template.maxInflightMessages(),
        template.maxInflightBytes(), template.maxMessageBytes(), template.maxUncommittedEntries(),
        template.maxEntryBytes());
    Configuration base = bases.get(id);
    SplittableRandom random = new SplittableRandom(seed * 31 + id.hashCode());
    if (base != null) {
      return new RaftCore(cfg, random, durableHardState.get(id), base, 0, 0, durableLog.get(id));
    }
    return new RaftCore(cfg, random, durableHardState.get(id), durableLog.get(id));
  }

  /** Restarts a node from its durable state (which is everything it was handed: instant storage). */
  void restart(String id) {
    applied.get(id).clear();
    nodes.put(id, newCore(id));
  }

  RaftCore node(String id) {
    return nodes.get(id);
  }

  /** Ticks node until it starts a campaign, without delivering anything. */
  void timeout(String id) {
    RaftCore n = node(id);
    for (int i = 0; i < 2 * template.electionTicks() + 1; i++) {
      n.tick();
      if (collect(id).stream().anyMatch(m -> m instanceof Message.VoteRequest)
          || n.role() == Role.LEADER) {
        return;
      }
    }
    throw new AssertionError(id + " did not campaign");
  }

  /** Times a node out and delivers everything: the usual way to elect it. */
  void elect(String id) {
    timeout(id);
    stabilize();
    if (node(id).role() != Role.LEADER) {
      throw new AssertionError(id + " did not win: " + node(id).status());
    }
  }

  void tick(String id, int n) {
    for (int i = 0; i < n; i++) {
      node(id).tick();
    }
  }

  ProposeResult propose(String id, String data) {
    return node(id).propose(EntryType.COMMAND, 0, 0, data.getBytes(StandardCharsets.UTF_8));
  }

  void isolate(String id) {
    isolated.add(id);
  }

  void heal() {
    isolated.clear();
    dropFilters.clear();
    mutators.clear();
  }

  /** Rewrites messages in transit (until {@link #heal()}). */
  void mutate(UnaryOperator<Message> mutator) {
    mutators.add(mutator);
  }

  /** Removes entries at or above index from AppendEntries in transit (until {@link #heal()}). */
  void stripEntriesFrom(long index) {
    mutate(m -> m instanceof Message.AppendEntriesRequest a
        ? new Message.AppendEntriesRequest(a.term(), a.from(), a.to(), a.prevLogIndex(),
            a.prevLogTerm(), a.entries().stream().filter(e -> e.index() < index).toList(),
            a.leaderCommit(), a.round())
        : m);
  }

  void drop(Predicate<Message> filter) {
    dropFilters.add(filter);
  }

  /** Collects every node's Ready into the queue; storage completes at once. */
  void collect() {
    for (Map.Entry<String, RaftCore> e : nodes.entrySet()) {
      collect(e.getKey());
    }
  }

  /** Collects one node's Ready. */
  List<Message> collect(String id) {
    RaftCore n = nodes.get(id);
    List<Message> sent = new ArrayList<>();
    while (n.hasReady()) {
      Ready r = n.ready();
      long lastSeq = 0;
      for (StorageWrite w : r.writes()) {
        persist(id, w);
        lastSeq = w.sequence();
      }
      if (r.snapshot() != null) {
        restored.get(id).add(r.snapshot());
      }
      applied.get(id).addAll(r.committed());
      reads.get(id).addAll(r.reads());
      failedReads.get(id).addAll(r.failedReads());
      forwarded.get(id).addAll(r.forwarded());
      sent.addAll(r.messages());
      if (lastSeq > 0) {
        n.persisted(lastSeq);
      }
    }
    queue.addAll(sent);
    return sent;
  }

  void persist(String id, StorageWrite w) {
    List<LogEntry> dl = durableLog.get(id);
    if (w.resetTo() > 0) {
      dl.clear();
    }
    if (w.truncateFrom() > 0) {
      dl.removeIf(e -> e.index() >= w.truncateFrom());
    }
    dl.addAll(w.entries());
    if (w.hardState() != null) {
      durableHardState.put(id, w.hardState());
    }
  }

  /** Delivers the messages queued now (not those they cause); returns how many arrived. */
  int deliver() {
    collect();
    List<Message> batch = new ArrayList<>(queue);
    queue.clear();
    int n = 0;
    for (Message m : batch) {
      if (dropped(m)) {
        continue;
      }
      RaftCore to = nodes.get(m.to());
      for (UnaryOperator<Message> f : mutators) {
        m = f.apply(m);
      }
      if (to != null) {
        to.step(m);
        n++;
        delivered++;
      }
    }
    collect();
    return n;
  }

  /** Delivers until no message is left; returns the number of delivery rounds. */
  int stabilize() {
    int rounds = 0;
    collect();
    while (!queue.isEmpty()) {
      deliver();
      rounds++;
      if (rounds > 10_000) {
        throw new AssertionError("no quiescence");
      }
    }
    return rounds;
  }

  private boolean dropped(Message m) {
    if (isolated.contains(m.from()) || isolated.contains(m.to())) {
      return true;
    }
    for (Predicate<Message> f : dropFilters) {
      if (f.test(m)) {
        return true;
      }
    }
    return false;
  }

  /** Messages queued and not yet delivered. */
  List<Message> pending() {
    collect();
    return new ArrayList<>(queue);
  }

  void clearQueue() {
    queue.clear();
  }

  long[] logTerms(String id) {
    RaftCore n = node(id);
    List<LogEntry> all = n.entriesFrom(1);
    long[] terms = new long[all.size()];
    for (int i = 0; i < terms.length; i++) {
      terms[i] = all.get(i).term();
    }
    return terms;
  }
}
