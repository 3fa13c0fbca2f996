/**
 * The repository stands on its own: no tracked file points outside it (to a sibling `shared` folder, to
 * the workstation's paths, to a design document kept elsewhere), and every relative link of every tracked
 * Markdown file reaches a tracked file or folder — and, with a `#fragment`, one of its headings.
 */
import { execFileSync } from 'node:child_process';
import { lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' }).split('\0').filter(Boolean);
const trackedSet = new Set(tracked);
const trackedDirs = new Set(tracked.flatMap((f) => f.split('/').slice(0, -1).map((_, i, parts) => parts.slice(0, i + 1).join('/'))));

/** Written on another branch that has not landed yet; remove an entry once its file is tracked here. */
const PENDING_TARGETS = new Set<string>([]);

// Spelled in pieces, so that this file does not match itself.
const FORBIDDEN = [['..', 'shared'].join('/'), ['', 'work', ''].join('/'), ['shared', 'DESIGN.md'].join('/'), ['shared', 'TOOLCHAIN'].join('/')];

const isLink = (file: string) => lstatSync(join(ROOT, file)).isSymbolicLink();
const isText = (file: string) => !isLink(file) && !/\.(png|jpe?g|gif|ico|webp|woff2?|ttf|gz|tgz|zip|pdf)$/i.test(file);
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to dashes. */
export function slugOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function anchorsOf(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const line of markdown.replace(/^```[\s\S]*?^```/gm, '').split('\n')) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = slugOf(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/** Relative link targets of a Markdown file (code blocks and spans left out). */
function linksOf(markdown: string): string[] {
  const text = markdown.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
  return [...text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)]
    .map((m) => m[1]!)
    .filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target));
}

describe('the repository is self-contained', () => {
  it('tracks a sensible set of files (the listing is not empty)', () => {
    expect(tracked.length).toBeGreaterThan(100);
    expect(trackedSet.has('README.md')).toBe(true);
  });

  it('mentions no path outside the repository in any tracked file', () => {
    const hits: string[] = [];
    for (const file of tracked.filter(isText)) {
      const lines = read(file).split('\n');
      lines.forEach((line, i) => {
        for (const bad of FORBIDDEN) if (line.includes(bad)) hits.push(`${file}:${i + 1}: ${bad}`);
      });
    }
    expect(hits).toEqual([]);
  });

  it('has no symbolic link that leads outside the repository', () => {
    const links = tracked.filter(isLink);
    expect(links.length).toBeGreaterThan(0); // the chart's files/ links
    const outside = links.filter((l) => relative(ROOT, join(ROOT, dirname(l), readlinkSync(join(ROOT, l)))).startsWith('..'));
    expect(outside).toEqual([]);
  });

  it('resolves every relative Markdown link to a tracked file or folder, and its anchor to a heading', () => {
    const broken: string[] = [];
    const markdown = tracked.filter((f) => f.endsWith('.md'));
    expect(markdown.length).toBeGreaterThan(5);
    for (const file of markdown) {
      for (const link of linksOf(read(file))) {
        const [path, anchor] = link.split('#') as [string, string | undefined];
        const target = path === '' ? file : normalize(join(dirname(file), decodeURIComponent(path))).replace(/\/$/, '');
        if (relative(ROOT, join(ROOT, target)).startsWith('..')) {
          broken.push(`${file}: ${link} leaves the repository`);
          continue;
        }
        if (PENDING_TARGETS.has(target)) continue;
        if (!trackedSet.has(target) && !trackedDirs.has(target)) {
          broken.push(`${file}: ${link} → ${target} is not a tracked file`);
          continue;
        }
        if (anchor && target.endsWith('.md') && !anchorsOf(read(target)).has(anchor)) broken.push(`${file}: ${link} → no heading #${anchor}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('computes anchors and finds links the way GitHub does (checked on samples)', () => {
    expect(slugOf('Delivery guarantees (how the dispatcher keeps them; proven in `test/delivery/`)')).toBe(
      'delivery-guarantees-how-the-dispatcher-keeps-them-proven-in-testdelivery',
    );
    expect(slugOf('Local: docker compose')).toBe('local-docker-compose');
    expect(linksOf('see [a](docs/A.md#x), [b](https://example.com) and `[c](no.md)`\n```\n[d](no.md)\n```\n')).toEqual(['docs/A.md#x']);
    expect([...anchorsOf('# T\n## Same\n## Same\n```\n# not a heading\n```\n')]).toEqual(['t', 'same', 'same-1']);
  });
});
