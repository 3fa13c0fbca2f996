/**
 * Prints the reliability table at the end of a jest run: one row per scenario, from the rows the specs
 * appended (test/reliability/support/ledger.ts `report`). Silent when no reliability scenario ran.
 */
const { mkdirSync, readdirSync, readFileSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

class ReliabilityTableReporter {
  constructor() {
    this.dir = process.env.SWITCHYARD_RELIABILITY_RESULTS ?? join(tmpdir(), `switchyard-reliability-${process.pid}`);
    // Workers are started after the reporters, so they inherit the directory.
    process.env.SWITCHYARD_RELIABILITY_RESULTS = this.dir;
  }

  onRunStart() {
    rmSync(this.dir, { recursive: true, force: true });
    mkdirSync(this.dir, { recursive: true });
  }

  onRunComplete() {
    let rows = [];
    try {
      for (const f of readdirSync(this.dir)) {
        rows.push(...readFileSync(join(this.dir, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)));
      }
    } catch {
      return;
    }
    rmSync(this.dir, { recursive: true, force: true });
    if (rows.length === 0) return;
    rows.sort((a, b) => a.scenario.localeCompare(b.scenario));
    const head = ['scenario', 'sent', 'accepted', 'delivered', 'dead-lettered', 'lost', 'delivered twice', 'cross-tenant'];
    const body = rows.map((r) => [r.scenario, r.sent, r.accepted, r.delivered, r.deadLettered, r.lost, r.deliveredTwice, r.crossTenant].map(String));
    const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
    const line = (cells) => '| ' + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ') + ' |';
    const out = [
      '',
      'Reliability ledger (sent = requests incl. retries; accepted = distinct event ids answered 200;',
      'delivered / dead-lettered / lost count (event, subscriber) pairs)',
      line(head),
      '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|',
      ...body.map(line),
      '',
    ];
    process.stdout.write(out.join('\n') + '\n');
  }
}

module.exports = ReliabilityTableReporter;
