// Runs the edge function's request logic for real, against a running endpoint (RunPod's local API in
// tests/test_edge_function.py). Prints one JSON line.
//
//   node dist/test/live.js '{"call": "enhancePrompt", "options": {"endpointUrl": "http://127.0.0.1:8000", ...}}'
//   node dist/test/live.js '{"call": "index", "env": {"RUNPOD_ENDPOINT_URL": "..."}, "body": {"prompt": "..."}}'
//
// "index" loads index.ts with a stand-in for the two Deno APIs it uses and sends it one request.
import { enhancePrompt, type EnhanceOptions } from "../enhance.ts";

type Scenario =
  | { call: "enhancePrompt"; options: EnhanceOptions }
  | { call: "index"; env: Record<string, string>; body: unknown; method?: string };

async function main(): Promise<void> {
  const scenario = JSON.parse(process.argv[2] ?? "{}") as Scenario;
  if (scenario.call === "enhancePrompt") {
    console.log(JSON.stringify(await enhancePrompt(scenario.options)));
    return;
  }
  let handler: ((request: Request) => Response | Promise<Response>) | undefined;
  (globalThis as Record<string, unknown>).Deno = {
    serve: (h: typeof handler) => {
      handler = h;
    },
    env: { get: (name: string) => scenario.env[name] },
  };
  await import("../index.ts");
  if (!handler) throw new Error("index.ts did not call Deno.serve");
  const response = await handler(
    new Request("http://edge.local/enhance-prompt", {
      method: scenario.method ?? "POST",
      headers: { "content-type": "application/json" },
      body: scenario.method === "GET" ? undefined : typeof scenario.body === "string" ? scenario.body : JSON.stringify(scenario.body),
    }),
  );
  console.log(JSON.stringify({ httpStatus: response.status, body: await response.json() }));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
