package dev.raftvertx.webui;

import io.vertx.core.json.JsonObject;

/**
 * Options of the {@link WebUi}, in the Vert.x style: {@code DEFAULT_*} constants, fluent setters, a
 * JSON constructor and {@link #toJson()}.
 */
public class WebUiOptions {

  /** Default entries shown of each node's log: 40. */
  public static final int DEFAULT_LOG_TAIL_ENTRIES = 40;
  /** Default payload bytes of each log entry shown (as text): 120. */
  public static final int DEFAULT_ENTRY_PREVIEW_BYTES = 120;
  /** Default most pushes per second to each browser: 10. */
  public static final int DEFAULT_MAX_PUSHES_PER_SECOND = 10;
  /** Default time covered by the plots: 300 s. */
  public static final int DEFAULT_HISTORY_SECONDS = 300;
  /** Default events kept for the timeline: 500. */
  public static final int DEFAULT_TIMELINE_EVENTS = 500;
  /** Default most browsers connected to the event stream at once: 64. */
  public static final int DEFAULT_MAX_CLIENTS = 64;
  /** Default hint in the page's propose box: {@code command}. */
  public static final String DEFAULT_PROPOSE_HINT = "command";

  private String adminToken;
  private int logTailEntries = DEFAULT_LOG_TAIL_ENTRIES;
  private int entryPreviewBytes = DEFAULT_ENTRY_PREVIEW_BYTES;
  private int maxPushesPerSecond = DEFAULT_MAX_PUSHES_PER_SECOND;
  private int historySeconds = DEFAULT_HISTORY_SECONDS;
  private int timelineEvents = DEFAULT_TIMELINE_EVENTS;
  private int maxClients = DEFAULT_MAX_CLIENTS;
  private String proposeHint = DEFAULT_PROPOSE_HINT;

  /** Default options: no admin token, so the UI only watches. */
  public WebUiOptions() {
  }

  /**
   * Copy constructor.
   *
   * @param other the options to copy
   */
  public WebUiOptions(WebUiOptions other) {
    this(other.toJson());
  }

  /**
   * Creates options from JSON (the field names of {@link #toJson()}); absent fields keep defaults.
   *
   * @param json the JSON
   */
  public WebUiOptions(JsonObject json) {
    adminToken = json.getString("adminToken", adminToken);
    logTailEntries = json.getInteger("logTailEntries", logTailEntries);
    entryPreviewBytes = json.getInteger("entryPreviewBytes", entryPreviewBytes);
    maxPushesPerSecond = json.getInteger("maxPushesPerSecond", maxPushesPerSecond);
    historySeconds = json.getInteger("historySeconds", historySeconds);
    timelineEvents = json.getInteger("timelineEvents", timelineEvents);
    maxClients = json.getInteger("maxClients", maxClients);
    proposeHint = json.getString("proposeHint", proposeHint);
  }

  /** @return the options as JSON */
  public JsonObject toJson() {
    return new JsonObject()
        .put("adminToken", adminToken)
        .put("logTailEntries", logTailEntries)
        .put("entryPreviewBytes", entryPreviewBytes)
        .put("maxPushesPerSecond", maxPushesPerSecond)
        .put("historySeconds", historySeconds)
        .put("timelineEvents", timelineEvents)
        .put("maxClients", maxClients)
        .put("proposeHint", proposeHint);
  }

  /**
   * @throws IllegalArgumentException naming the first bad option
   */
  public void validate() {
    if (logTailEntries < 1 || logTailEntries > 1000) {
      throw new IllegalArgumentException("logTailEntries must be within 1..1000");
    }
    if (entryPreviewBytes < 0 || entryPreviewBytes > 4096) {
      throw new IllegalArgumentException("entryPreviewBytes must be within 0..4096");
    }
    if (maxPushesPerSecond < 1 || maxPushesPerSecond > 100) {
      throw new IllegalArgumentException("maxPushesPerSecond must be within 1..100");
    }
    if (historySeconds < 10 || timelineEvents < 1 || maxClients < 1) {
      throw new IllegalArgumentException(
          "historySeconds must be >= 10, timelineEvents and maxClients >= 1");
    }
  }

  /** @return the admin token, or null when admin actions are off */
  public String getAdminToken() {
    return adminToken;
  }

  /**
   * @param adminToken the bearer token admin requests must carry; null turns admin actions off
   * @return a reference to this, so the API can be used fluently
   */
  public WebUiOptions setAdminToken(String adminToken) {
    this.adminToken = adminToken;
    return this;
  }

  /** @return entries shown of each node's log */
  public int getLogTailEntries() {
    return logTailEntries;
  }

  /**
   * @param logTailEntries how many of the newest entries of each node's log are shown
   * @return a reference to this, so the API can be used fluently
   */
  public WebUiOptions setLogTailEntries(int logTailEntries) {
    this.logTailEntries = logTailEntries;
    return this;
  }

  /** @return payload bytes shown per log entry */
  public int getEntryPreviewBytes() {
    return entryPreviewBytes;
  }

  /**
   * @param entryPreviewBytes how many payload bytes of each shown entry are read for its label
   * @return a reference to this, so the API can be used fluently
   */
  public WebUiOptions setEntryPreviewBytes(int entryPreviewBytes) {
    this.entryPreviewBytes = entryPreviewBytes;
    return this;
  }

  /** @return most pushes per second to each browser */
  public int getMaxPushesPerSecond() {
    return maxPushesPerSecond;
  }

  /**
   * @param maxPushesPerSecond changes are coalesced into at most this many pushes per second
   * @return a reference to this, so the API can be used fluently
   */
  public WebUiOptions setMaxPushesPerSecond(int maxPushesPerSecond) {
    this.maxPushesPerSecond = maxPushesPerSecond;
    return this;
  }

  /** @return seconds of history in the plots */
  public int getHistorySeconds() {
    return historySeconds;
  }

  /**
   * @param historySeconds how far back the plots go (one point per second)
   * @return a reference to this, so the API can be used fluently
   */
  public WebUiOptions setHistorySeconds(int historySeconds) {
    this.historySeconds = historySeconds;
    return this;
  }

  /** @return events kept for the timeline */
  public int getTimelineEvents() {
    return timelineEvents;
  }

  /**
   * @param timelineEvents how many role, term, leader and admin events the timeline keeps
   * @return a reference to this, so the API can be used fluently
   */
  public WebUiOptions setTimelineEvents(int timelineEvents) {
    this.timelineEvents = timelineEvents;
    return this;
  }

  /** @return most browsers on the event stream at once */
  public int getMaxClients() {
    return maxClients;
  }

  /**
   * @param maxClients most event-stream connections at once; more are refused with 503
   * @return a reference to this, so the API can be used fluently
   */
  public WebUiOptions setMaxClients(int maxClients) {
    this.maxClients = maxClients;
    return this;
  }

  /** @return the hint shown in the page's propose box */
  public String getProposeHint() {
    return proposeHint;
  }

  /**
   * @param proposeHint what to type in the page's propose box, e.g. {@code key=value}; it should
   *     match the {@link WebUi#commandEncoder} in use
   * @return a reference to this, so the API can be used fluently
   */
  public WebUiOptions setProposeHint(String proposeHint) {
    this.proposeHint = proposeHint == null ? DEFAULT_PROPOSE_HINT : proposeHint;
    return this;
  }
}
