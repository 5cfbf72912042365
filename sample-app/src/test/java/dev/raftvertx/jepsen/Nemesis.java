package dev.raftvertx.jepsen;

import dev.raftvertx.jepsen.FaultProxy.Mode;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.function.DoubleSupplier;

/**
 * Injects faults into a {@link NodeProcesses} cluster on a schedule: one fault (or, in the mixed
 * schedule, sometimes two at once) is held for a few seconds, healed, and after a pause the next
 * one comes. Every choice comes from the given random source; every action is logged with its
 * time.
 */
public final class Nemesis {

  /** A fault schedule. */
  public enum Schedule {
    /** SIGKILL a node (the leader half of the time) and restart it later. */
    KILL,
    /** SIGSTOP a node (the leader half of the time) for longer than an election, then SIGCONT. */
    PAUSE,
    /** Network partitions: majority/minority, isolated leader, a bridge node, one-way links. */
    PARTITION,
    /**
     * Message-level faults inside the nodes' transports ({@code POST /admin/faults}): on a few
     * random nodes, a random fraction of outbound Raft messages is dropped, another is sent
     * twice, and each message is held for a random time so that messages overtake each other.
     */
    MESSAGES,
    /** All of the above and slow links, sometimes two faults at once. */
    MIXED
  }

  /** The kinds MIXED draws from. */
  private static final Schedule[] MIXED_KINDS = {
      Schedule.KILL, Schedule.PAUSE, Schedule.PARTITION, Schedule.MESSAGES};

  private final NodeProcesses cluster;
  private final FaultProxy proxy;
  private final Random rnd;
  private final Schedule schedule;
  private final DoubleSupplier clock;
  private final List<String> timeline = Collections.synchronizedList(new ArrayList<>());
  private final Map<String, Integer> counts = new TreeMap<>();

  /**
   * @param cluster the nodes
   * @param schedule which faults
   * @param rnd the random source of every choice
   * @param clock seconds since the run started, for the timeline
   */
  public Nemesis(NodeProcesses cluster, Schedule schedule, Random rnd, DoubleSupplier clock) {
    this.cluster = cluster;
    this.proxy = cluster.proxy();
    this.schedule = schedule;
    this.rnd = rnd;
    this.clock = clock;
  }

  /** @return every action taken, with its time */
  public List<String> timeline() {
    synchronized (timeline) {
      return List.copyOf(timeline);
    }
  }

  /** @return how many faults of each kind were injected */
  public synchronized Map<String, Integer> counts() {
    return new TreeMap<>(counts);
  }

  /** @return the total number of faults injected */
  public synchronized int total() {
    return counts.values().stream().mapToInt(Integer::intValue).sum();
  }

  private void log(String what) {
    timeline.add(String.format("%7.2fs %s", clock.getAsDouble(), what));
  }

  private synchronized void count(String kind) {
    counts.merge(kind, 1, Integer::sum);
  }

  /**
   * Runs faults until the deadline, then heals everything.
   *
   * @param deadlineNanos System.nanoTime() after which no new fault starts
   */
  public void run(long deadlineNanos) throws Exception {
    sleep(1000 + rnd.nextInt(1500));
    while (System.nanoTime() < deadlineNanos && !Thread.currentThread().isInterrupted()) {
      List<Runnable> heals = new ArrayList<>();
      int faults = schedule == Schedule.MIXED && rnd.nextInt(3) == 0 ? 2 : 1;
      for (int i = 0; i < faults; i++) {
        Schedule kind = schedule != Schedule.MIXED ? schedule
            : MIXED_KINDS[rnd.nextInt(MIXED_KINDS.length)];
        if (schedule == Schedule.MIXED && rnd.nextInt(5) == 0) {
          heals.add(slowLinks());
        } else {
          heals.add(switch (kind) {
            case KILL -> kill();
            case PAUSE -> pause();
            case MESSAGES -> messages();
            default -> partition();
          });
        }
      }
      sleep(1000 + rnd.nextInt(4000));
      Collections.reverse(heals);
      for (Runnable heal : heals) {
        heal.run();
      }
      sleep(1000 + rnd.nextInt(2500));
    }
    healAll();
  }

  /** Resumes, restarts and reconnects everything. */
  public void healAll() throws Exception {
    cluster.healAll();
    log("heal all");
  }

  /** @return the nodes alive and not paused */
  private List<String> running() {
    return cluster.ids().stream().filter(id -> cluster.isAlive(id) && !cluster.isPaused(id))
        .toList();
  }

  /** @return the leader half of the time (if there is one), else a random running node */
  private String target(String leader) {
    List<String> ids = running();
    if (ids.isEmpty()) {
      ids = cluster.ids();
    }
    boolean toLeader = rnd.nextBoolean();
    String any = ids.get(rnd.nextInt(ids.size()));
    return leader != null && toLeader ? leader : any;
  }

  private Runnable kill() throws InterruptedException {
    String leader = cluster.leader();
    List<String> victims = new ArrayList<>();
    victims.add(target(leader));
    int minority = (cluster.ids().size() - 1) / 2;
    if (minority > 1 && rnd.nextInt(3) == 0) {
      List<String> others = new ArrayList<>(running());
      others.removeAll(victims);
      if (!others.isEmpty()) {
        victims.add(others.get(rnd.nextInt(others.size())));
      }
    }
    victims.removeIf(v -> !cluster.isAlive(v)); // already killed by the other fault of the step
    for (String v : victims) {
      cluster.kill(v);
      count("kill");
      log("SIGKILL " + v + (v.equals(leader) ? " (leader)" : ""));
    }
    return () -> {
      for (String v : victims) {
        try {
          cluster.start(v);
          log("restart " + v);
        } catch (java.io.IOException e) {
          throw new IllegalStateException(e);
        }
      }
    };
  }

  private Runnable pause() throws InterruptedException {
    String leader = cluster.leader();
    String v = target(leader);
    cluster.pause(v);
    count("pause");
    log("SIGSTOP " + v + (v.equals(leader) ? " (leader)" : ""));
    return () -> {
      try {
        cluster.resume(v);
        log("SIGCONT " + v);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    };
  }

  private Runnable partition() {
    List<String> ids = new ArrayList<>(cluster.ids());
    Collections.shuffle(ids, rnd);
    Mode mode = rnd.nextInt(3) == 0 ? Mode.STALL : Mode.CUT;
    List<String[]> cut = new ArrayList<>();
    String what;
    switch (rnd.nextInt(4)) {
      case 0 -> {
        // majority / minority
        int minority = 1 + rnd.nextInt((ids.size() - 1) / 2);
        List<String> small = ids.subList(0, minority);
        List<String> big = ids.subList(minority, ids.size());
        both(small, big, cut);
        what = "majority/minority " + big + " | " + small;
        count("partition");
      }
      case 1 -> {
        String leader = cluster.leader();
        String alone = leader != null ? leader : ids.get(0);
        List<String> rest = new ArrayList<>(ids);
        rest.remove(alone);
        both(List.of(alone), rest, cut);
        what = "isolate " + alone + (leader != null ? " (leader)" : "") + " | " + rest;
        count("partition");
      }
      case 2 -> {
        // a bridge: two sides that cannot talk, and one node that talks to both
        String bridge = ids.get(0);
        int half = (ids.size() - 1) / 2;
        List<String> left = ids.subList(1, 1 + half);
        List<String> right = ids.subList(1 + half, ids.size());
        both(left, right, cut);
        what = "bridge " + bridge + " between " + left + " and " + right;
        count("partition-bridge");
      }
      default -> {
        // one-way: some nodes cannot send to others, but hear them
        String leader = cluster.leader();
        String a = leader != null && rnd.nextBoolean() ? leader : ids.get(0);
        List<String> others = new ArrayList<>(ids);
        others.remove(a);
        boolean outbound = rnd.nextBoolean();
        for (String o : others) {
          cut.add(outbound ? new String[] {a, o} : new String[] {o, a});
        }
        what = "one-way: " + (outbound ? a + " cannot send to " + others
            : others + " cannot send to " + a) + (a.equals(leader) ? " (leader)" : "");
        count("partition-one-way");
      }
    }
    for (String[] link : cut) {
      proxy.set(link[0], link[1], mode);
    }
    log("partition " + what + " (" + mode.name().toLowerCase() + ")");
    return () -> {
      for (String[] link : cut) {
        proxy.set(link[0], link[1], Mode.PASS);
      }
      log("heal partition");
    };
  }

  /**
   * Message faults on one node, several, or all: each gets loss, duplication, reordering (a
   * random delay per message) or all three, with random strengths.
   */
  private Runnable messages() {
    List<String> ids = new ArrayList<>(running());
    Collections.shuffle(ids, rnd);
    List<String> targets = ids.subList(0, Math.min(ids.size(), 1 + rnd.nextInt(ids.size() + 1)));
    String leader = cluster.leader();
    List<String> faulted = new ArrayList<>();
    for (String id : targets) {
      int kind = rnd.nextInt(4); // 0 loss, 1 duplication, 2 reordering, 3 all three
      double drop = kind == 0 || kind == 3 ? (5 + rnd.nextInt(26)) / 100.0 : 0;
      double duplicate = kind == 1 || kind == 3 ? (5 + rnd.nextInt(46)) / 100.0 : 0;
      long delayMax = kind == 2 || kind == 3 ? 5 + rnd.nextInt(76) : 0;
      io.vertx.core.json.JsonObject faults = new io.vertx.core.json.JsonObject()
          .put("drop", drop).put("duplicate", duplicate).put("delayMs", 0)
          .put("delayMaxMs", delayMax);
      String what = String.format("%s%s: drop %.2f, duplicate %.2f, delay 0-%d ms", id,
          id.equals(leader) ? " (leader)" : "", drop, duplicate, delayMax);
      String error = cluster.setMessageFaults(id, faults);
      if (error != null) {
        log("messages " + what + " NOT SET: " + error);
        continue;
      }
      faulted.add(id);
      count(switch (kind) {
        case 0 -> "messages-drop";
        case 1 -> "messages-duplicate";
        case 2 -> "messages-reorder";
        default -> "messages-all";
      });
      log("messages " + what);
    }
    return () -> {
      for (String id : faulted) {
        // a node killed meanwhile came back without faults; a paused one is cleared by healAll
        if (!cluster.hasMessageFaults(id)) {
          log("messages " + id + " healed (restarted since, without faults)");
          continue;
        }
        String error = cluster.isAlive(id) && !cluster.isPaused(id)
            ? cluster.clearMessageFaults(id) : "not running";
        log("messages " + id + " healed" + (error == null ? ""
            : " NOT CLEARED (" + error + "), cleared at heal all"));
      }
    };
  }

  private Runnable slowLinks() {
    long delay = 20 + rnd.nextInt(300);
    List<String[]> links = new ArrayList<>();
    for (String a : cluster.ids()) {
      for (String b : cluster.ids()) {
        if (!a.equals(b) && rnd.nextBoolean()) {
          links.add(new String[] {a, b});
          proxy.delay(a, b, delay);
        }
      }
    }
    count("slow-links");
    log("delay " + delay + " ms on " + links.stream().map(l -> l[0] + "->" + l[1]).toList());
    return () -> {
      for (String[] l : links) {
        proxy.delay(l[0], l[1], 0);
      }
      log("links at full speed");
    };
  }

  private static void both(List<String> a, List<String> b, List<String[]> cut) {
    for (String x : a) {
      for (String y : b) {
        cut.add(new String[] {x, y});
        cut.add(new String[] {y, x});
      }
    }
  }

  private static void sleep(long millis) throws InterruptedException {
    Thread.sleep(millis);
  }
}
