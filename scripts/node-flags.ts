/**
 * Node flags the Switchyard apps run with: the Docker image's entrypoint (APP_NODE_FLAGS), the chart's and
 * compose's fan-out command (FANOUT_NODE_FLAGS), the `all` supervisor's children, the scale tier's processes and
 * the bench's. Specs hold the Dockerfile, the chart and compose to these lists.
 *
 * `--max-semi-space-size=32`: V8's young generation may grow to 2 × 32 MB instead of 2 × 16 MB. Every
 * delivery and every request allocates short-lived objects (the rendered body, headers, promises, undici's
 * request); with the default size a busy fan-out spent 23 % of its CPU collecting garbage, and the scavenger promoted
 * objects still in flight to the old space, to be collected by full GCs. With 32 MB a backlog drained ~15 %
 * faster at ~14 % less fan-out CPU per delivery (bench/RESULTS.md, seventh round). The space grows only under
 * load: an idle process keeps its small one.
 */
export const APP_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=32'];

/**
 * Fan-out holds each event from its message to its ack (its attempts, then the batched store): a few hundred
 * ms under load, two or three scavenges of a 32 MB young generation, so most of what it allocates for an event is
 * copied twice and then promoted, and full GCs collect it. With 2 × 128 MB the scavenges are a quarter to a half as
 * many for about the same live set each: their pauses took half the time in every backlog drain and knee step
 * measured, and fan-out's CPU per delivery over the bare sender's had a median of 1.60 against 1.80 over seven pairs
 * of drains, each pair within the machine's noise (bench/RESULTS.md, twenty-third round), for up to ~190 MB more
 * resident memory under load (within the chart's 768 Mi limit).
 * Ingress and dedupe keep 32: their objects live a few ms, and a larger young generation only lengthened each
 * scavenge's pause, which their answer times see.
 */
export const FANOUT_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=128'];

/** The flags app `app` runs with. */
export function nodeFlagsFor(app: string): readonly string[] {
  return app === 'fanout' ? FANOUT_NODE_FLAGS : APP_NODE_FLAGS;
}

/**
 * The container entrypoint app `app` runs with where its flags are not the image's (the chart's `command`,
 * compose's `entrypoint`); undefined: the image's own.
 */
export function entrypointFor(app: string): string[] | undefined {
  const flags = nodeFlagsFor(app);
  return flags === APP_NODE_FLAGS ? undefined : ['node', ...flags, 'dist/scripts/switchyard.js'];
}
