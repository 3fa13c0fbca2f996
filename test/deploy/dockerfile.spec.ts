/**
 * deploy/docker/Dockerfile read by a small parser (no Docker engine runs on the test machines):
 * every COPY source exists and survives .dockerignore, stages are referenced correctly, the runtime
 * stage has production dependencies only and a numeric non-root user, and the ENTRYPOINT is a file
 * that `npm run build` produces from a source that is copied into the build stage.
 */
import { existsSync, readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { APP_NODE_FLAGS } from '../../scripts/node-flags';
import { repoPath } from './deploy-support';

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  name: string;
  from: string;
  instructions: Instruction[];
}

/** Instructions of a Dockerfile: comments dropped, `\` continuations joined. */
function parseDockerfile(text: string): { args: Record<string, string>; stages: Stage[] } {
  const lines: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!pending && (line === '' || line.startsWith('#'))) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    lines.push(pending + line);
    pending = '';
  }
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const line of lines) {
    const [, op, rest] = /^(\w+)\s+(.*)$/.exec(line) ?? [];
    const instr = { op: op.toUpperCase(), args: rest.trim() };
    if (instr.op === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instr.args)!;
      stages.push({ name: m[2] ?? String(stages.length), from: m[1], instructions: [] });
    } else if (stages.length === 0 && instr.op === 'ARG') {
      const [k, v] = instr.args.split('=');
      args[k] = v;
    } else {
      stages[stages.length - 1].instructions.push(instr);
    }
  }
  return { args, stages };
}

/** COPY [--flags] src... dest  →  flags, sources, destination */
function parseCopy(args: string): { flags: Record<string, string>; sources: string[]; dest: string } {
  const words = args.startsWith('[') ? (JSON.parse(args) as string[]) : args.split(/\s+/);
  const flags: Record<string, string> = {};
  while (words[0]?.startsWith('--')) {
    const [k, v] = words.shift()!.slice(2).split('=');
    flags[k] = v ?? 'true';
  }
  return { flags, sources: words.slice(0, -1), dest: words[words.length - 1] };
}

/** .dockerignore semantics: patterns match a path or any of its parents; the last match wins; `!` re-includes. */
function dockerIgnored(patterns: string[], path: string): boolean {
  const toRegex = (p: string) =>
    new RegExp(
      `^${posix
        .normalize(p)
        .replace(/\/$/, '')
        .split(/(\*\*\/?|\*|\?)/)
        .map((part) =>
          part === '**/' || part === '**' ? '(?:.*/)?' + (part === '**' ? '.*' : '') : part === '*' ? '[^/]*' : part === '?' ? '[^/]' : part.replace(/[.+^${}()|[\]\\]/g, '\\$&'),
        )
        .join('')}$`,
    );
  const parts = path.split('/');
  const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const raw of patterns) {
    const negate = raw.startsWith('!');
    const re = toRegex(negate ? raw.slice(1) : raw);
    if (candidates.some((c) => re.test(c))) ignored = !negate;
  }
  return ignored;
}

const dockerfile = parseDockerfile(readFileSync(repoPath('deploy/docker/Dockerfile'), 'utf8'));
const ignorePatterns = readFileSync(repoPath('.dockerignore'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));
const stage = (name: string): Stage => {
  const s = dockerfile.stages.find((x) => x.name === name);
  if (!s) throw new Error(`no stage ${name}`);
  return s;
};
const runs = (s: Stage): string[] => s.instructions.filter((i) => i.op === 'RUN').map((i) => i.args);
const copies = (s: Stage) => s.instructions.filter((i) => i.op === 'COPY').map((i) => parseCopy(i.args));
/** A stage and the stages it is built FROM, nearest first. */
const lineage = (s: Stage): Stage[] => {
  const parent = dockerfile.stages.find((x) => x.name === s.from);
  return parent ? [s, ...lineage(parent)] : [s];
};
const finalStage = dockerfile.stages[dockerfile.stages.length - 1];

describe('the .dockerignore matcher used below', () => {
  it('follows Docker semantics on the patterns this repository uses', () => {
    const p = ['*', '!libs/', '!deploy/docker/healthcheck.js', '**/*.spec.ts'];
    expect(dockerIgnored(p, 'node_modules/x/index.js')).toBe(true);
    expect(dockerIgnored(p, 'libs/config/src/config.ts')).toBe(false);
    expect(dockerIgnored(p, 'libs/config/src/config.spec.ts')).toBe(true);
    expect(dockerIgnored(p, 'deploy/docker/healthcheck.js')).toBe(false);
    expect(dockerIgnored(p, 'deploy/docker/Dockerfile')).toBe(true);
  });
});

describe('deploy/docker/Dockerfile', () => {
  it('builds on Debian 12 slim Node of a current LTS line that satisfies package.json engines', () => {
    const base = dockerfile.stages[0].from.replace(/\$\{(\w+)\}/g, (_, k: string) => dockerfile.args[k]);
    const m = /^node:(\d+)-bookworm-slim$/.exec(base);
    expect(m).not.toBeNull();
    const major = Number(m![1]);
    expect(major % 2).toBe(0); // even majors become LTS
    expect(major).toBeGreaterThanOrEqual(22);
    const engines = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')).engines.node as string;
    expect(Number(/>=\s*(\d+)/.exec(engines)![1])).toBeLessThanOrEqual(major);
  });

  it('copies only sources that exist and that .dockerignore lets into the build context', () => {
    const sources = dockerfile.stages.flatMap((s) => copies(s).filter((c) => !c.flags.from).flatMap((c) => c.sources));
    expect(sources.length).toBeGreaterThan(5);
    for (const src of sources) {
      expect({ src, exists: existsSync(repoPath(src)) }).toEqual({ src, exists: true });
      expect({ src, ignored: dockerIgnored(ignorePatterns, src) }).toEqual({ src, ignored: false });
    }
  });

  it('keeps secrets, local state and dependencies out of the build context', () => {
    for (const path of ['.env', '.git/config', 'node_modules/yaml/package.json', 'dist/scripts/switchyard.js', '.tools/x/helm']) {
      expect({ path, ignored: dockerIgnored(ignorePatterns, path) }).toEqual({ path, ignored: true });
    }
  });

  it('refers only to stages defined before', () => {
    dockerfile.stages.forEach((s, i) => {
      for (const c of copies(s).filter((x) => x.flags.from)) {
        expect(dockerfile.stages.slice(0, i).map((x) => x.name)).toContain(c.flags.from);
      }
    });
  });

  it('builds with all dependencies and ships node_modules from a stage that installed production ones only', () => {
    const build = copies(finalStage).find((c) => c.sources[0] === '/app/dist')!;
    expect(build).toBeDefined();
    const buildRuns = lineage(stage(build.flags.from)).flatMap(runs).join('\n');
    expect(buildRuns).toMatch(/npm ci(?! --omit)/);
    expect(buildRuns).toContain('npm run build');

    const deps = copies(finalStage).find((c) => c.sources[0] === '/app/node_modules')!;
    expect(deps).toBeDefined();
    // Production dependencies: either installed alone, or everything installed and the dev ones pruned after.
    const depRuns = lineage(stage(deps.flags.from)).reverse().flatMap(runs);
    const installs = depRuns.filter((r) => /npm (ci|prune)/.test(r));
    expect(installs[installs.length - 1]).toMatch(/npm (ci|prune) --omit=dev/);
    expect(installs.filter((r) => /npm install/.test(r))).toEqual([]);
    expect(lineage(finalStage).flatMap(runs).filter((r) => /npm (ci|install)/.test(r))).toEqual([]);
  });

  it('runs as a numeric non-root user with NODE_ENV=production', () => {
    const users = finalStage.instructions.filter((i) => i.op === 'USER');
    const [uid] = users[users.length - 1].args.split(':');
    expect(Number(uid)).toBeGreaterThan(0);
    expect(finalStage.instructions.some((i) => i.op === 'ENV' && /NODE_ENV=production/.test(i.args))).toBe(true);
  });

  it('starts dist/scripts/switchyard.js with the app Node flags, which `npm run build` compiles from a source copied into the build stage', () => {
    const entry = finalStage.instructions.filter((i) => i.op === 'ENTRYPOINT').map((i) => JSON.parse(i.args));
    expect(entry).toEqual([['node', ...APP_NODE_FLAGS, 'dist/scripts/switchyard.js']]);
    expect(finalStage.instructions.some((i) => i.op === 'CMD')).toBe(false); // the app comes from args or SWITCHYARD_APP

    // package.json: `swc apps libs scripts -d dist` keeps leading paths (swc's default), so scripts/x.ts → dist/scripts/x.js
    const buildScript = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')).scripts.build as string;
    expect(buildScript).toMatch(/swc [^&]*\bscripts\b[^&]*-d dist/);
    expect(buildScript).not.toMatch(/--strip-leading-paths(\s|$)/);
    const source = ['scripts/switchyard.ts', 'scripts/switchyard.js'].find((f) => existsSync(repoPath(f)));
    expect(source).toBeDefined();
    const build = lineage(stage(copies(finalStage).find((c) => c.sources[0] === '/app/dist')!.flags.from));
    expect(build.flatMap(copies).flatMap((c) => c.sources)).toContain('scripts');
    // the build's own helper must be there too
    const helper = /node (scripts\/\S+\.js)/.exec(buildScript)?.[1];
    expect(helper).toBeDefined();
    expect({ helper, exists: existsSync(repoPath(helper!)) }).toEqual({ helper, exists: true });
  });
});
