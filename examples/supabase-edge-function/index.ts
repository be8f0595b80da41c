/**
 * Supabase edge function: enhances a prompt through the prompt-enhancer RunPod endpoint.
 *
 *   supabase functions new enhance-prompt      # then copy index.ts and enhance.ts into it
 *   supabase secrets set RUNPOD_API_KEY=... RUNPOD_ENDPOINT_ID=...
 *   supabase functions deploy enhance-prompt
 *
 * POST {"prompt": "a red fox", "job_type": "sdxl_image_fast", "system_prompt": "...", "context": {...},
 *       "quality": "high", "seed": 7, "negative_prompt": true | "terms", "variants": 3,
 *       "strength": "light" | "balanced" | "rich", "keep_terms": ["ohwx"], "report": true,
 *       "deadline_ms": 45000, "mode": "sync" | "async"}
 * ->   200 {"success": true, "enhanced_prompt": "...", "original_prompt": "...", "source": "runpod" | "fallback",
 *           "status": "COMPLETED" | "FAILED" | "DEADLINE_EXCEEDED" | ..., "reason": "...", "job_id": "...",
 *           "enhancement_source": "edge_function", "quality_score": 0.9, "elapsed_ms": 1234,
 *           "negative_prompt": "..." (when asked), "variants": ["...", "..."] (when asked),
 *           "changes": {...} (when asked)}
 * A failure of the endpoint is not a failure of this function: the caller gets its own prompt back
 * (source "fallback", with the reason) and goes on. Only a request without a prompt gets a 400.
 *
 * Environment: RUNPOD_API_KEY (required for api.runpod.ai), RUNPOD_ENDPOINT_ID, or RUNPOD_ENDPOINT_URL
 * (a full base URL, e.g. http://127.0.0.1:8000 for `python handler.py --rp_serve_api`), and
 * ENHANCE_DEADLINE_MS (default deadline, 60000). Supabase stops a function after 150 s of wall
 * clock, so deadlines are capped at 140 s.
 */

import { enhancePrompt, type EnhanceResult } from "./enhance.ts";

export const MAX_DEADLINE_MS = 140_000;
export const DEFAULT_DEADLINE_MS = 60_000;

const CORS_HEADERS: Record<string, string> = {
  "access-control-allow-origin": "*",
  "access-control-allow-headers": "authorization, x-client-info, apikey, content-type",
  "access-control-allow-methods": "POST, OPTIONS",
};

type Env = (name: string) => string | undefined;

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { ...CORS_HEADERS, "content-type": "application/json" },
  });
}

export function endpointUrlFrom(env: Env): string | undefined {
  const url = env("RUNPOD_ENDPOINT_URL")?.trim();
  if (url) return url;
  const id = env("RUNPOD_ENDPOINT_ID")?.trim();
  return id ? `https://api.runpod.ai/v2/${encodeURIComponent(id)}` : undefined;
}

function deadlineFrom(requested: unknown, env: Env): number {
  const fallback = Number(env("ENHANCE_DEADLINE_MS") ?? DEFAULT_DEADLINE_MS);
  const value = typeof requested === "number" && Number.isFinite(requested) ? requested : fallback;
  return Math.min(MAX_DEADLINE_MS, Math.max(1, Number.isFinite(value) ? value : DEFAULT_DEADLINE_MS));
}

function respond(result: EnhanceResult): Response {
  const output = result.output ?? {};
  return json({
    success: true,
    enhanced_prompt: result.enhancedPrompt,
    original_prompt: result.originalPrompt,
    source: result.source,
    status: result.status,
    reason: result.reason,
    job_id: result.jobId,
    enhancement_source: result.enhancementSource,
    quality_score: output.quality_score,
    job_type: output.job_type,
    cache_hit: output.cache_hit,
    negative_prompt: result.negativePrompt,
    variants: result.variants,
    changes: result.changes,
    elapsed_ms: result.elapsedMs,
  });
}

export async function handleRequest(request: Request, env: Env): Promise<Response> {
  if (request.method === "OPTIONS") return new Response("ok", { headers: CORS_HEADERS });
  if (request.method !== "POST") return json({ success: false, error: "use POST" }, 405);

  let body: Record<string, unknown>;
  try {
    const parsed: unknown = await request.json();
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("not an object");
    body = parsed as Record<string, unknown>;
  } catch {
    return json({ success: false, error: "body: must be a JSON object" }, 400);
  }
  const prompt = body.prompt;
  if (typeof prompt !== "string" || !prompt.trim()) {
    return json({ success: false, error: "prompt: must be a non-empty string" }, 400);
  }

  const endpointUrl = endpointUrlFrom(env);
  const apiKey = env("RUNPOD_API_KEY")?.trim();
  const misconfigured = !endpointUrl
    ? "RUNPOD_ENDPOINT_ID (or RUNPOD_ENDPOINT_URL) is not set"
    : !apiKey && endpointUrl.startsWith("https://api.runpod.ai/")
      ? "RUNPOD_API_KEY is not set"
      : undefined;
  if (misconfigured) {
    console.error(`enhance-prompt: ${misconfigured}`);
    return respond({
      enhancedPrompt: prompt,
      originalPrompt: prompt,
      source: "fallback",
      status: "INVALID_INPUT",
      reason: misconfigured,
      calls: [],
      elapsedMs: 0,
    });
  }

  const extraInput: Record<string, unknown> = {};
  // Passed as given: the worker names a bad value in its error, which comes back as the reason.
  for (const key of ["seed", "use_cache", "enhancement_type", "negative_prompt", "variants", "strength", "keep_terms",
    "report"]) {
    if (body[key] !== undefined) extraInput[key] = body[key];
  }
  const result = await enhancePrompt({
    endpointUrl: endpointUrl!,
    apiKey,
    prompt,
    jobType: typeof body.job_type === "string" ? body.job_type : undefined,
    quality: body.quality === "fast" || body.quality === "high" ? body.quality : undefined,
    systemPrompt: typeof body.system_prompt === "string" ? body.system_prompt : undefined,
    context:
      body.context && typeof body.context === "object" && !Array.isArray(body.context)
        ? (body.context as Record<string, unknown>)
        : undefined,
    extraInput,
    deadlineMs: deadlineFrom(body.deadline_ms, env),
    mode: body.mode === "async" ? "async" : "sync",
    signal: request.signal,
  });
  if (result.source === "fallback") {
    console.warn(`enhance-prompt: fallback to the original prompt (${result.status}): ${result.reason}`);
  }
  return respond(result);
}

Deno.serve((request: Request) => handleRequest(request, (name) => Deno.env.get(name)));
