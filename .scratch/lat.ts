import { TestStack } from '../test/support/stack';
import { TestReceiver } from '../test/support/receiver';
import { nimbusFixtures, clone } from '../test/fixtures/nimbus';

async function main() {
  const stack = await TestStack.start('lat', { LOG_LEVEL: 'warn' });
  const rx = await new TestReceiver().start();
  const c = await stack.createClinic();
  await stack.createSubscriber(c.id, rx.url);
  const times: number[] = [];
  for (let i = 0; i < 300; i++) {
    const b = clone(nimbusFixtures['medication:updated']) as any;
    b.event_data.medication_order_id = `o-${i}`;
    const t0 = performance.now();
    const r = await stack.send(c.apiKey, b);
    times.push(performance.now() - t0);
    if (r.status !== 200) console.log(r.status, r.body);
  }
  times.sort((a, b) => a - b);
  console.log('sequential ingress latency ms p50', times[150].toFixed(2), 'p90', times[270].toFixed(2), 'max', times[299].toFixed(2));
  await rx.waitFor(300, 30000);
  const e2e = rx.requests.map((r) => r.at - Date.parse(JSON.parse(r.body).time)).sort((a, b) => a - b);
  console.log('e2e ms p50', e2e[150], 'p90', e2e[270]);
  const m = await (await fetch(stack.ingressUrl + '/metrics')).text();
  for (const line of m.split('\n')) if (/^switchyard_(dedupe_claim_duration_seconds|jetstream_publish_duration_seconds)_(sum|count)/.test(line)) console.log(line);
  await stack.stop(); await rx.stop();
  process.exit(0);
}
main();
