// The two Deno APIs index.ts uses, for type-checking with tsc; Deno itself brings the real ones.
declare namespace Deno {
  function serve(handler: (request: Request) => Response | Promise<Response>): unknown;
  const env: { get(name: string): string | undefined };
}
