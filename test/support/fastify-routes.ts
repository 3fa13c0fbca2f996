export interface RouteRef {
  method: string;
  /** OpenAPI spelling: `/admin/clinics/{id}`. */
  path: string;
}

const LINE = /^((?:│ {3}| {4})*)(?:├── |└── )(\S+) \(([A-Z, ]+)\)$/;

/**
 * The routes of a Fastify instance from `printRoutes({ commonPrefix: false })`: each tree line adds its
 * segment to its parent's path. HEAD (added by Fastify for every GET) is left out.
 */
export function parseFastifyRouteTree(tree: string): RouteRef[] {
  const stack: string[] = [];
  const routes: RouteRef[] = [];
  for (const line of tree.split('\n')) {
    const m = LINE.exec(line.trimEnd());
    if (!m) {
      if (line.trim()) throw new Error(`unexpected printRoutes line: ${JSON.stringify(line)}`);
      continue;
    }
    const depth = m[1]!.length / 4;
    stack.length = depth;
    const path = `${stack[depth - 1] ?? ''}${m[2]}`;
    stack.push(path);
    for (const method of m[3]!.split(', ')) {
      if (method !== 'HEAD') routes.push({ method, path: path.replace(/:(\w+)/g, '{$1}') });
    }
  }
  return routes;
}
