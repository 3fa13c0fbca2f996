/**
 * Node flags every Switchyard app process runs with: the Docker image's entrypoint, the `all` supervisor's
 * children, the scale tier's processes and the bench's (a test holds the Dockerfile to this list).
 *
 * `--max-semi-space-size=32`: V8's young generation may grow to 2 × 32 MB instead of 2 × 16 MB. Every
 * delivery and every request allocates short-lived objects (the rendered body, headers, promises, undici's
 * request); with the default size a busy fan-out spent 23 % of its CPU collecting garbage, and the scavenger promoted
 * objects still in flight to the old space, to be collected by full GCs. With 32 MB a backlog drained ~15 %
 * faster at ~14 % less fan-out CPU per delivery (bench/RESULTS.md, seventh round); 64 MB gained only a few
 * per cent more for twice the memory. The space grows only under load: an idle process keeps its small one.
 */
export const APP_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=32'];

