'use strict';
// Container health check without curl or wget in the image:
//   node deploy/docker/healthcheck.js http://127.0.0.1:9093/healthz     (ingress's ops port)
// Exits 0 on a 2xx answer within 3 s, 1 otherwise.
const url = process.argv[2];
if (!url) {
  process.stderr.write('usage: healthcheck.js <url>\n');
  process.exit(2);
}
fetch(url, { signal: AbortSignal.timeout(3000) }).then(
  (res) => process.exit(res.ok ? 0 : 1),
  (err) => {
    process.stderr.write(`${url}: ${err.message}\n`);
    process.exit(1);
  },
);
