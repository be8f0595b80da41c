/**
 * Calls the prompt-enhancer RunPod endpoint within a deadline; never throws.
 *
 * Plain TypeScript on web APIs (fetch, AbortSignal, setTimeout): Deno runs it as is, Node runs it
 * after `tsc` (see package.json). index.ts is the Supabase wrapper around it.
 *
 * Strategy (RunPod's queue API, https://api.runpod.ai/v2/<endpoint id>):
 *   1. POST /runsync?wait=<ms>: answers COMPLETED/FAILED when the job finishes within `wait`
 *      (default 90 s, at most 300 s), else IN_QUEUE/IN_PROGRESS with the job id. A cold start
 *      (loading a 7B model) can take longer than that, and a /runsync result is kept only about a
 *      minute, so:
 *   2. poll GET /status/<id> (falling back to POST where GET is refused with 405, as RunPod's local
 *      test API does) until COMPLETED, FAILED, CANCELLED or TIMED_OUT, or until the deadline.
 *   3. At the deadline the job is cancelled (POST /cancel/<id>, best effort, at most 1 s) and the
 *      original prompt comes back with the reason.
 * `mode: "async"` starts with POST /run instead (the job is kept 30 minutes), then polls the same way.
 *
 * Every failure (network, HTTP status, FAILED job, unusable output, deadline) answers with the
 * caller's original prompt, `source: "fallback"` and a `reason`; a successful call answers with the
 * worker's `enhanced_prompt` and `source: "runpod"`.
 */

export type JobStatus = "IN_QUEUE" | "IN_PROGRESS" | "RUNNING" | "COMPLETED" | "FAILED" | "CANCELLED" | "TIMED_OUT";

/** The job's last RunPod status, or why there is none. */
export type ResultStatus = JobStatus | "DEADLINE_EXCEEDED" | "HTTP_ERROR" | "NETWORK_ERROR" | "INVALID_RESPONSE" | "INVALID_INPUT";

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface EnhanceOptions {
  /** https://api.runpod.ai/v2/<endpoint id>, or a local API such as http://127.0.0.1:8000 */
  endpointUrl: string;
  /** RunPod API key, sent as `authorization: Bearer <key>` (the local API ignores it). */
  apiKey?: string;
  prompt: string;
  /** sdxl_image_fast (default on the worker), sdxl_image_high, video_fast, video_high, wan_7b_enhanced */
  jobType?: string;
  quality?: "fast" | "high";
  /** The caller's own system prompt; the worker then reports enhancement_source "edge_function". */
  systemPrompt?: string;
  /** Extra guidance for the model (style, brand, user preferences), bounded in size by the worker. */
  context?: Record<string, unknown>;
  /** true: the worker also returns a negative prompt made for the target; a string: the caller's own
   * terms, merged with the target's. Terms that negate what the prompt asks for are left out. */
  negativePrompt?: boolean | string;
  /** 1..8 distinct takes in one job, decoded together; the first is `enhancedPrompt`. */
  variants?: number;
  /** light: the user's wording and order stay, only what is missing is added; rich: a full rewrite.
   * Unset: balanced, or light for a prompt that already fills most of the target's budget. */
  strength?: "light" | "balanced" | "rich";
  /** Terms the enhanced prompt must hold verbatim (LoRA triggers, names, brand text). Quoted text,
   * weights like (red door:1.3) and <lora:name:0.7> tags of the prompt are kept without asking. */
  keepTerms?: string[];
  /** true: the result carries `changes`, the worker's report of what it changed, with spans. */
  report?: boolean;
  /** Any other job input fields (seed, use_cache, enhancement_type, action...). */
  extraInput?: Record<string, unknown>;
  /** Total time budget in ms, from the call to the answer. */
  deadlineMs: number;
  /** "sync" (default): /runsync, then /status polling; "async": /run, then /status polling. */
  mode?: "sync" | "async";
  /** Upper bound of the /runsync `wait` parameter in ms (RunPod's default is 90000; 1000..300000). */
  syncWaitMs?: number;
  /** First pause between /status polls in ms; it grows by half each time up to maxPollIntervalMs. */
  pollIntervalMs?: number;
  maxPollIntervalMs?: number;
  /** Cancel a job still queued or running at the deadline (default true). */
  cancelOnDeadline?: boolean;
  /** Aborts the whole call early (for example when the edge function's own client went away). */
  signal?: AbortSignal;
  /** A fetch implementation (tests inject one); default: the global fetch. */
  fetch?: FetchLike;
}

export interface EnhanceResult {
  /** The worker's enhanced prompt, or the original prompt on any failure. */
  enhancedPrompt: string;
  originalPrompt: string;
  source: "runpod" | "fallback";
  status: ResultStatus;
  /** Why the original prompt came back (absent on success). */
  reason?: string;
  jobId?: string;
  /** The worker's enhancement_source: edge_function, worker_fallback or emergency_fallback. */
  enhancementSource?: string;
  /** The worker's negative prompt, when `negativePrompt` asked for one. */
  negativePrompt?: string;
  /** Every take's enhanced prompt, the first being `enhancedPrompt`, when `variants` asked for several. */
  variants?: string[];
  /** The worker's change report, when `report` asked for one: token counts, each prompt word and how it
   * is carried, kept terms, drops, additions; spans are [start, end) offsets into `enhancedPrompt`. */
  changes?: Record<string, unknown>;
  /** The worker's full output object (quality_score, token counts...) when it answered. */
  output?: Record<string, unknown>;
  /** The calls made, in order: runsync, run, status, cancel. */
  calls: string[];
  elapsedMs: number;
}

const PENDING: ReadonlySet<string> = new Set(["IN_QUEUE", "IN_PROGRESS", "RUNNING"]);
const RETRYABLE_HTTP: ReadonlySet<number> = new Set([429, 502, 503, 504]);
const CANCEL_BUDGET_MS = 1000;
const MIN_TTL_MS = 10_000; // RunPod's smallest job TTL

class Deadline {
  readonly start = Date.now();
  constructor(readonly budgetMs: number) {}
  get remaining(): number {
    return this.start + this.budgetMs - Date.now();
  }
  get elapsed(): number {
    return Date.now() - this.start;
  }
}

type Outcome =
  | { kind: "response"; httpStatus: number; body: Record<string, unknown> | null; text: string }
  | { kind: "timeout" }
  | { kind: "aborted" }
  | { kind: "network"; message: string };

function errorMessage(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as Error & { cause?: unknown }).cause;
    const detail = cause instanceof Error ? `: ${cause.message}` : "";
    return `${error.name}: ${error.message}${detail}`;
  }
  return String(error);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (ms <= 0 || signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

async function request(
  fetchImpl: FetchLike,
  url: string,
  init: RequestInit,
  timeoutMs: number,
  outer?: AbortSignal,
): Promise<Outcome> {
  if (outer?.aborted) return { kind: "aborted" };
  if (timeoutMs <= 0) return { kind: "timeout" };
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  const onOuterAbort = () => controller.abort();
  outer?.addEventListener("abort", onOuterAbort, { once: true });
  try {
    const response = await fetchImpl(url, { ...init, signal: controller.signal });
    const text = await response.text();
    let body: Record<string, unknown> | null = null;
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
    } catch {
      body = null;
    }
    return { kind: "response", httpStatus: response.status, body, text };
  } catch (error) {
    if (timedOut) return { kind: "timeout" };
    if (outer?.aborted) return { kind: "aborted" };
    return { kind: "network", message: errorMessage(error) };
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener("abort", onOuterAbort);
  }
}

function describeError(error: unknown): string {
  if (typeof error === "string") return error;
  if (error && typeof error === "object") {
    const record = error as Record<string, unknown>;
    for (const key of ["error_message", "message", "error"]) {
      if (typeof record[key] === "string") return record[key] as string;
    }
    return JSON.stringify(error);
  }
  return "the job failed without an error message";
}

function clip(text: string, max = 300): string {
  return text.length > max ? `${text.slice(0, max)}...` : text;
}

export function normalizeEndpointUrl(url: string): string {
  return url.trim().replace(/\/+$/, "");
}

export async function enhancePrompt(options: EnhanceOptions): Promise<EnhanceResult> {
  const deadline = new Deadline(Number.isFinite(options.deadlineMs) ? Math.max(0, options.deadlineMs) : 0);
  const original = typeof options.prompt === "string" ? options.prompt : String(options.prompt ?? "");
  const calls: string[] = [];
  let jobId: string | undefined;

  const finish = (status: ResultStatus, reason: string): EnhanceResult => ({
    enhancedPrompt: original,
    originalPrompt: original,
    source: "fallback",
    status,
    reason,
    jobId,
    calls,
    elapsedMs: deadline.elapsed,
  });

  try {
    const fetchImpl: FetchLike | undefined = options.fetch ?? (globalThis.fetch?.bind(globalThis) as FetchLike | undefined);
    if (!fetchImpl) return finish("INVALID_INPUT", "no fetch implementation available");
    if (!original.trim()) return finish("INVALID_INPUT", "prompt is empty");
    if (!options.endpointUrl || !/^https?:\/\//i.test(options.endpointUrl.trim())) {
      return finish("INVALID_INPUT", "endpointUrl must be an http(s) URL");
    }
    const base = normalizeEndpointUrl(options.endpointUrl);
    const readHeaders: Record<string, string> = { accept: "application/json" };
    if (options.apiKey) readHeaders.authorization = `Bearer ${options.apiKey}`;
    const headers: Record<string, string> = { ...readHeaders, "content-type": "application/json" };

    const input: Record<string, unknown> = { ...(options.extraInput ?? {}), prompt: original };
    if (options.jobType) input.job_type = options.jobType;
    if (options.quality) input.quality = options.quality;
    if (options.systemPrompt) input.system_prompt = options.systemPrompt;
    if (options.context && Object.keys(options.context).length > 0) input.context = options.context;
    if (options.negativePrompt !== undefined && options.negativePrompt !== false) input.negative_prompt = options.negativePrompt;
    if (options.variants !== undefined) input.variants = options.variants;
    if (options.strength !== undefined) input.strength = options.strength;
    if (options.keepTerms !== undefined) input.keep_terms = options.keepTerms;
    if (options.report) input.report = true;
    // A job nobody waits for any more should not hold a GPU: it expires from the queue with the deadline.
    const body = JSON.stringify({ input, policy: { ttl: Math.max(MIN_TTL_MS, Math.ceil(deadline.budgetMs)) } });

    const completed = (data: Record<string, unknown>): EnhanceResult => {
      const output = data.output;
      if (!output || typeof output !== "object" || Array.isArray(output)) {
        return finish("INVALID_RESPONSE", "the job completed without an output object");
      }
      const record = output as Record<string, unknown>;
      const enhanced = record.enhanced_prompt;
      if (record.success === false || typeof enhanced !== "string" || !enhanced.trim()) {
        const why = typeof record.error === "string" ? record.error : "no enhanced_prompt in the output";
        return { ...finish("COMPLETED", `the worker did not enhance the prompt: ${why}`), output: record };
      }
      return {
        enhancedPrompt: enhanced,
        originalPrompt: original,
        source: "runpod",
        status: "COMPLETED",
        jobId,
        enhancementSource: typeof record.enhancement_source === "string" ? record.enhancement_source : undefined,
        negativePrompt: typeof record.negative_prompt === "string" ? record.negative_prompt : undefined,
        variants: Array.isArray(record.variants)
          ? record.variants.map((take) => (take as Record<string, unknown>).enhanced_prompt).filter((text): text is string => typeof text === "string")
          : undefined,
        changes: record.changes && typeof record.changes === "object" ? (record.changes as Record<string, unknown>) : undefined,
        output: record,
        calls,
        elapsedMs: deadline.elapsed,
      };
    };

    const cancel = async () => {
      if (!jobId || options.cancelOnDeadline === false || options.signal?.aborted) return;
      calls.push("cancel");
      await request(fetchImpl, `${base}/cancel/${encodeURIComponent(jobId)}`, { method: "POST", headers: readHeaders }, CANCEL_BUDGET_MS);
    };

    const deadlineReason = (stage: string) =>
      `deadline of ${deadline.budgetMs} ms exceeded ${stage}` + (jobId ? ` (job ${jobId})` : "");

    // Interprets a job document from /runsync, /run or /status. Returns a result when the job is over.
    const judge = (data: Record<string, unknown>, stage: string): EnhanceResult | "pending" => {
      if (typeof data.id === "string" && data.id) jobId = data.id;
      const status = typeof data.status === "string" ? data.status.toUpperCase() : "";
      if (status === "COMPLETED") return completed(data);
      if (status === "FAILED") return finish("FAILED", `the job failed: ${describeError(data.error)}`);
      if (status === "CANCELLED" || status === "TIMED_OUT") {
        return finish(status, `the job was ${status === "CANCELLED" ? "cancelled" : "timed out by RunPod"}`);
      }
      if (PENDING.has(status)) return "pending";
      return finish("INVALID_RESPONSE", `unexpected ${stage} answer: ${clip(JSON.stringify(data))}`);
    };

    const httpFailure = (outcome: { httpStatus: number; text: string }, stage: string): EnhanceResult => {
      const hints: Record<number, string> = {
        401: "unauthorized: check RUNPOD_API_KEY",
        403: "forbidden: check RUNPOD_API_KEY",
        404: stage === "/status" ? "job not found (its result may have expired)" : "not found: check the endpoint id or URL",
        429: "rate limited by RunPod",
      };
      const hint = hints[outcome.httpStatus] ?? clip(outcome.text.trim() || "no body");
      return finish("HTTP_ERROR", `${stage} answered HTTP ${outcome.httpStatus}: ${hint}`);
    };

    // 1. Submit: /runsync (waits server-side) or /run; one retry on rate limits, gateway errors and network errors.
    const stage = options.mode === "async" ? "run" : "runsync";
    let submitted: Outcome | undefined;
    for (let attempt = 0; attempt < 2; attempt++) {
      let url = `${base}/${stage}`;
      if (stage === "runsync") {
        const wait = Math.min(options.syncWaitMs ?? 90_000, 300_000, Math.max(1000, deadline.remaining - 500));
        url += `?wait=${Math.max(1000, Math.floor(wait))}`;
      }
      calls.push(stage);
      submitted = await request(fetchImpl, url, { method: "POST", headers, body }, deadline.remaining, options.signal);
      const retry =
        submitted.kind === "network" || (submitted.kind === "response" && RETRYABLE_HTTP.has(submitted.httpStatus));
      if (!retry || attempt === 1 || deadline.remaining < 1500) break;
      await sleep(Math.min(500, deadline.remaining - 1000), options.signal);
    }
    if (!submitted || submitted.kind === "timeout") return finish("DEADLINE_EXCEEDED", deadlineReason(`waiting for /${stage}`));
    if (submitted.kind === "aborted") return finish("DEADLINE_EXCEEDED", "aborted by the caller");
    if (submitted.kind === "network") return finish("NETWORK_ERROR", `/${stage} could not be reached: ${submitted.message}`);
    if (submitted.httpStatus < 200 || submitted.httpStatus >= 300) return httpFailure(submitted, `/${stage}`);
    if (!submitted.body) return finish("INVALID_RESPONSE", `/${stage} answered with no JSON object: ${clip(submitted.text)}`);
    const first = judge(submitted.body, `/${stage}`);
    if (first !== "pending") return first;
    if (!jobId) return finish("INVALID_RESPONSE", `/${stage} answered ${String(submitted.body.status)} without a job id`);

    // 2. Poll /status/<id> until the job is over or the deadline.
    let statusMethod: "GET" | "POST" = "GET";
    let pause = Math.max(50, options.pollIntervalMs ?? 500);
    const maxPause = Math.max(pause, options.maxPollIntervalMs ?? 3000);
    let lastProblem = "";
    let lastStatus: ResultStatus = String(submitted.body.status).toUpperCase() as ResultStatus;
    while (true) {
      if (options.signal?.aborted) return finish("DEADLINE_EXCEEDED", "aborted by the caller");
      if (deadline.remaining <= 0) break;
      calls.push("status");
      const polled = await request(
        fetchImpl,
        `${base}/status/${encodeURIComponent(jobId)}`,
        { method: statusMethod, headers: readHeaders },
        deadline.remaining,
        options.signal,
      );
      if (polled.kind === "timeout") break;
      if (polled.kind === "aborted") return finish("DEADLINE_EXCEEDED", "aborted by the caller");
      if (polled.kind === "response" && polled.httpStatus === 405 && statusMethod === "GET") {
        statusMethod = "POST"; // RunPod's local API (python handler.py --rp_serve_api) only has POST /status
        continue;
      }
      if (polled.kind === "network") {
        lastProblem = `last /status error: ${polled.message}`;
      } else if (polled.httpStatus === 401 || polled.httpStatus === 403 || polled.httpStatus === 404) {
        return httpFailure(polled, "/status");
      } else if (polled.httpStatus < 200 || polled.httpStatus >= 300 || !polled.body) {
        lastProblem = `last /status answer: HTTP ${polled.httpStatus}`;
      } else {
        const verdict = judge(polled.body, "/status");
        if (verdict !== "pending") return verdict;
        lastStatus = String(polled.body.status).toUpperCase() as ResultStatus;
        lastProblem = "";
      }
      await sleep(Math.min(pause, deadline.remaining), options.signal);
      pause = Math.min(maxPause, Math.round(pause * 1.5));
    }
    await cancel();
    return finish("DEADLINE_EXCEEDED", deadlineReason(`while the job was ${lastStatus}`) + (lastProblem ? `; ${lastProblem}` : ""));
  } catch (error) {
    // Nothing above should throw; this keeps the promise of "never throws" if something does.
    return finish("INVALID_RESPONSE", `unexpected error: ${errorMessage(error)}`);
  }
}
