import { SerialByKey } from './serial-by-key';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('SerialByKey', () => {
  it('runs one key in submission order, other keys alongside, and survives a failing task', async () => {
    const serial = new SerialByKey();
    const log: string[] = [];
    const task = (name: string, ms: number, fail = false) => async () => {
      log.push(`start ${name}`);
      await tick(ms);
      log.push(`end ${name}`);
      if (fail) throw new Error(name);
      return name;
    };
    const results = await Promise.allSettled([
      serial.run('x', task('x1', 30, true)),
      serial.run('x', task('x2', 1)),
      serial.run('y', task('y1', 1)),
      serial.run(null, task('n1', 1)),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'fulfilled', 'fulfilled']);
    expect(log.indexOf('start x2')).toBeGreaterThan(log.indexOf('end x1'));
    expect(log.indexOf('end y1')).toBeLessThan(log.indexOf('end x1'));
    expect(log.indexOf('end n1')).toBeLessThan(log.indexOf('end x1'));
  });
});
