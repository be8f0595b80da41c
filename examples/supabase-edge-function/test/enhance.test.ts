// Unit tests of enhance.ts against a scripted fake of RunPod's API: the paths the local API cannot
// produce (IN_QUEUE from /runsync, polling, TIMED_OUT, HTTP errors). `npm test` runs them;
// tests/test_edge_function.py runs them and the live tests against `python handler.py --rp_serve_api`.
import assert from "node:assert/strict";
import { test } from "node:test";

import { enhancePrompt, type EnhanceOptions, type FetchLike } from "../enhance.ts";

type Reply = { status?: number; body: unknown } | "network-error" | "hang";
type Seen = { method: string; url: string; body?: unknown; headers: Record<string, string> };

function fakeRunPod(replies: Record<string, Reply[]>): { fetch: FetchLike; seen: Seen[] } {
  const seen: Seen[] = [];
  const fetch: FetchLike = async (url, init) => {
    const method = init?.method ?? "GET";
    const headers = (init?.headers ?? {}) as Record<string, string>;
    seen.push({ method, url, body: init?.body ? JSON.parse(String(init.body)) : undefined, headers });
    const path = new URL(url).pathname.split("/")[3] ?? "";
    const key = `${method} ${path}`;
    const queue = replies[key] ?? replies[path];
    const reply = queue && queue.length > 1 ? queue.shift()! : queue?.[0];
    if (!reply) return new Response(JSON.stringify({ error: `no fake for ${key}` }), { status: 404 });
    if (reply === "network-error") throw new TypeError("fetch failed");
    if (reply === "hang") {
      return new Promise<Response>((_, reject) => {
        init?.signal?.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
      });
    }
    return new Response(JSON.stringify(reply.body), { status: reply.status ?? 200 });
  };
  return { fetch, seen };
}

const BASE = "https://api.runpod.ai/v2/abc123";
const done = (prompt: string) => ({
  id: "job-1",
  status: "COMPLETED",
  output: { success: true, enhanced_prompt: `masterpiece, ${prompt}, golden hour`, enhancement_source: "edge_function", quality_score: 0.9 },
});

function options(fetch: FetchLike, extra: Partial<EnhanceOptions> = {}): EnhanceOptions {
  return { endpointUrl: BASE, apiKey: "rp_key", prompt: "a red fox", deadlineMs: 5000, pollIntervalMs: 10, fetch, ...extra };
}

test("runsync COMPLETED: the enhanced prompt, with input, auth, wait and ttl sent", async () => {
  const fake = fakeRunPod({ runsync: [{ body: done("a red fox") }] });
  const result = await enhancePrompt(
    options(fake.fetch, { jobType: "video_fast", systemPrompt: "Be brief.", context: { style: "noir" }, extraInput: { seed: 3 } }),
  );
  assert.equal(result.source, "runpod");
  assert.equal(result.status, "COMPLETED");
  assert.equal(result.enhancedPrompt, "masterpiece, a red fox, golden hour");
  assert.equal(result.enhancementSource, "edge_function");
  assert.deepEqual(result.calls, ["runsync"]);
  const [call] = fake.seen;
  assert.equal(call.method, "POST");
  assert.match(call.url, /^https:\/\/api\.runpod\.ai\/v2\/abc123\/runsync\?wait=\d+$/);
  assert.ok(Number(new URL(call.url).searchParams.get("wait")) <= 5000);
  assert.equal(call.headers.authorization, "Bearer rp_key");
  assert.deepEqual(call.body, {
    input: { seed: 3, prompt: "a red fox", job_type: "video_fast", system_prompt: "Be brief.", context: { style: "noir" } },
    policy: { ttl: 10000 },
  });
});

test("runsync IN_QUEUE (cold start): polls GET /status until COMPLETED", async () => {
  const fake = fakeRunPod({
    runsync: [{ body: { id: "job-1", status: "IN_QUEUE" } }],
    "GET status": [{ body: { id: "job-1", status: "IN_QUEUE" } }, { body: { id: "job-1", status: "IN_PROGRESS" } }, { body: done("a red fox") }],
  });
  const result = await enhancePrompt(options(fake.fetch));
  assert.equal(result.source, "runpod");
  assert.equal(result.jobId, "job-1");
  assert.deepEqual(result.calls, ["runsync", "status", "status", "status"]);
  assert.ok(fake.seen.slice(1).every((c) => c.method === "GET" && c.url === `${BASE}/status/job-1` && c.body === undefined));
});

test("async mode: /run then /status; POST /status where GET is refused (the local API)", async () => {
  const fake = fakeRunPod({
    run: [{ body: { id: "test-9", status: "IN_PROGRESS" } }],
    "GET status": [{ status: 405, body: { detail: "Method Not Allowed" } }],
    "POST status": [{ body: { ...done("a red fox"), id: "test-9" } }],
  });
  const result = await enhancePrompt(options(fake.fetch, { mode: "async" }));
  assert.equal(result.source, "runpod");
  assert.deepEqual(result.calls, ["run", "status", "status"]);
  assert.equal(fake.seen[0].url, `${BASE}/run`);
});

test("FAILED from /status: the original prompt and the worker's error", async () => {
  const fake = fakeRunPod({
    runsync: [{ body: { id: "job-2", status: "IN_PROGRESS" } }],
    status: [{ body: { id: "job-2", status: "FAILED", error: "job_type: must be one of sdxl_image_fast, ..." } }],
  });
  const result = await enhancePrompt(options(fake.fetch));
  assert.equal(result.source, "fallback");
  assert.equal(result.status, "FAILED");
  assert.equal(result.enhancedPrompt, "a red fox");
  assert.match(result.reason!, /job_type: must be one of/);
});

test("TIMED_OUT and CANCELLED jobs fall back", async () => {
  for (const status of ["TIMED_OUT", "CANCELLED"]) {
    const fake = fakeRunPod({ runsync: [{ body: { id: "j", status } }] });
    const result = await enhancePrompt(options(fake.fetch));
    assert.equal(result.source, "fallback");
    assert.equal(result.status, status);
  }
});

test("deadline while the job is queued: cancels it and falls back", async () => {
  const fake = fakeRunPod({
    runsync: [{ body: { id: "job-3", status: "IN_QUEUE" } }],
    status: [{ body: { id: "job-3", status: "IN_QUEUE" } }],
    cancel: [{ body: { id: "job-3", status: "CANCELLED" } }],
  });
  const started = Date.now();
  const result = await enhancePrompt(options(fake.fetch, { deadlineMs: 300, pollIntervalMs: 50 }));
  assert.ok(Date.now() - started < 1500, "returned near the deadline");
  assert.equal(result.status, "DEADLINE_EXCEEDED");
  assert.equal(result.enhancedPrompt, "a red fox");
  assert.match(result.reason!, /deadline of 300 ms exceeded while the job was IN_QUEUE \(job job-3\)/);
  assert.equal(result.calls.at(-1), "cancel");
  assert.equal(fake.seen.at(-1)!.url, `${BASE}/cancel/job-3`);
});

test("deadline while /runsync hangs: falls back without a job id", async () => {
  const fake = fakeRunPod({ runsync: ["hang"] });
  const result = await enhancePrompt(options(fake.fetch, { deadlineMs: 100 }));
  assert.equal(result.status, "DEADLINE_EXCEEDED");
  assert.match(result.reason!, /deadline of 100 ms exceeded waiting for \/runsync/);
});

test("HTTP 401 and 404 name the likely cause; 503 is retried once", async () => {
  const unauthorized = await enhancePrompt(options(fakeRunPod({ runsync: [{ status: 401, body: {} }] }).fetch));
  assert.equal(unauthorized.status, "HTTP_ERROR");
  assert.match(unauthorized.reason!, /401.*RUNPOD_API_KEY/);
  const missing = await enhancePrompt(options(fakeRunPod({ runsync: [{ status: 404, body: {} }] }).fetch));
  assert.match(missing.reason!, /404.*endpoint id/);
  const flaky = fakeRunPod({ runsync: [{ status: 503, body: {} }, { body: done("a red fox") }] });
  const recovered = await enhancePrompt(options(flaky.fetch));
  assert.equal(recovered.source, "runpod");
  assert.deepEqual(recovered.calls, ["runsync", "runsync"]);
});

test("a network error on /status keeps polling", async () => {
  const fake = fakeRunPod({
    runsync: [{ body: { id: "j", status: "IN_QUEUE" } }],
    status: ["network-error", { body: done("a red fox") }],
  });
  const result = await enhancePrompt(options(fake.fetch));
  assert.equal(result.source, "runpod");
});

test("COMPLETED without a usable enhanced_prompt falls back", async () => {
  for (const output of [null, "text", { success: false, error: "boom" }, { success: true, enhanced_prompt: "  " }]) {
    const result = await enhancePrompt(options(fakeRunPod({ runsync: [{ body: { id: "j", status: "COMPLETED", output } }] }).fetch));
    assert.equal(result.source, "fallback", JSON.stringify(output));
    assert.equal(result.enhancedPrompt, "a red fox");
  }
});

test("never throws: bad options, a throwing fetch, non-JSON answers", async () => {
  const throwing: FetchLike = () => {
    throw new Error("synchronous failure");
  };
  assert.equal((await enhancePrompt(options(throwing))).status, "NETWORK_ERROR");
  assert.equal((await enhancePrompt(options(throwing, { endpointUrl: "ftp://x" }))).status, "INVALID_INPUT");
  assert.equal((await enhancePrompt(options(throwing, { prompt: "  " }))).status, "INVALID_INPUT");
  const html: FetchLike = async () => new Response("<html>gateway</html>", { status: 200 });
  const result = await enhancePrompt(options(html));
  assert.equal(result.status, "INVALID_RESPONSE");
  assert.equal(result.enhancedPrompt, "a red fox");
});
