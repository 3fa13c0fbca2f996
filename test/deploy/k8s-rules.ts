/**
 * What the Kubernetes API server checks that its OpenAPI schemas do not say, applied to a set of rendered
 * objects: port ranges, port and object names, unique names, and the references between objects (a
 * Service's targetPort, a probe's port, an Ingress backend, a ServiceMonitor endpoint, an HPA target,
 * a NetworkPolicy port, a PDB selector), and GA API versions only. Returns one sentence per problem; []
 * when there is none.
 */
import type { Obj } from './deploy-support';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/** IANA_SVC_NAME: at most 15 characters, lower-case letters, digits and inner single dashes, one letter at least. */
export function isPortName(name: string): boolean {
  return name.length <= 15 && DNS1123_LABEL.test(name) && /[a-z]/.test(name) && !name.includes('--');
}

export function isPortNumber(port: unknown): boolean {
  return Number.isInteger(port) && (port as number) >= 1 && (port as number) <= 65535;
}

const WORKLOADS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job']);
const id = (o: Obj) => `${o.kind}/${o.metadata?.name}`;
const matches = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) =>
  !!selector && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v);

interface Pod {
  owner: Obj;
  labels: Record<string, string>;
  spec: Obj;
}

export function apiServerRules(objects: Obj[]): string[] {
  const problems: string[] = [];
  const pods: Pod[] = objects
    .filter((o) => WORKLOADS.has(o.kind) && o.spec?.template)
    .map((o) => ({ owner: o, labels: o.spec.template.metadata?.labels ?? {}, spec: o.spec.template.spec ?? {} }));
  const containersOf = (pod: Pod): Obj[] => [...(pod.spec.initContainers ?? []), ...(pod.spec.containers ?? [])];
  const portsOf = (pod: Pod): Obj[] => containersOf(pod).flatMap((c) => c.ports ?? []);
  const podsSelectedBy = (selector: Record<string, string> | undefined) => pods.filter((p) => matches(selector, p.labels));
  const byKind = (kind: string) => objects.filter((o) => o.kind === kind);

  // Names and labels; GA API versions only (a beta version may be gone from the next release, and
  // kubernetes-models keeps removed versions, so its schemas cannot tell).
  const seen = new Set<string>();
  for (const o of objects) {
    if (/\/v\d+(alpha|beta)\d*$|^v\d+(alpha|beta)\d*$/.test(String(o.apiVersion))) problems.push(`${id(o)}: apiVersion ${o.apiVersion} is not GA`);
    const name = String(o.metadata?.name ?? '');
    if (seen.has(`${o.apiVersion} ${id(o)}`)) problems.push(`${id(o)}: two objects of this kind have this name`);
    seen.add(`${o.apiVersion} ${id(o)}`);
    const rule = o.kind === 'Service' ? DNS1035_LABEL : DNS1123_SUBDOMAIN;
    const max = o.kind === 'Service' ? 63 : 253;
    if (!rule.test(name) || name.length > max) problems.push(`${id(o)}: "${name}" is not a valid ${o.kind} name`);
    for (const [k, v] of Object.entries((o.metadata?.labels ?? {}) as Record<string, string>)) {
      if (typeof v !== 'string' || v.length > 63 || !LABEL_VALUE.test(v)) problems.push(`${id(o)}: label ${k}=${v} is not a valid label value`);
    }
  }

  // Workloads: container names, ports, probes, environment.
  for (const pod of pods) {
    const where = id(pod.owner);
    const podPortNames = new Set<string>();
    for (const c of containersOf(pod)) {
      if (!DNS1123_LABEL.test(c.name ?? '')) problems.push(`${where}: container name "${c.name}" is not a DNS-1123 label`);
      const own = new Set<string>();
      for (const p of c.ports ?? []) {
        if (!isPortNumber(p.containerPort)) problems.push(`${where}: container ${c.name} port ${p.containerPort} is outside 1-65535`);
        if (p.hostPort !== undefined && !isPortNumber(p.hostPort)) problems.push(`${where}: hostPort ${p.hostPort} is outside 1-65535`);
        if (p.name !== undefined) {
          if (!isPortName(p.name)) problems.push(`${where}: port name "${p.name}" is not an IANA service name (≤ 15 characters)`);
          if (podPortNames.has(p.name)) problems.push(`${where}: port name "${p.name}" is used twice in the pod`);
          podPortNames.add(p.name);
          own.add(p.name);
        }
      }
      for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
        const handler = c[probe]?.httpGet ?? c[probe]?.tcpSocket ?? c[probe]?.grpc;
        if (!handler) continue;
        const port = handler.port;
        if (typeof port === 'string' && !own.has(port)) problems.push(`${where}: ${c.name} ${probe} uses port "${port}", which the container does not declare`);
        if (typeof port === 'number' && !isPortNumber(port)) problems.push(`${where}: ${c.name} ${probe} port ${port} is outside 1-65535`);
      }
      const envNames = new Set<string>();
      for (const e of c.env ?? []) {
        if (!ENV_NAME.test(e.name ?? '')) problems.push(`${where}: env name "${e.name}" is not valid`);
        if (envNames.has(e.name)) problems.push(`${where}: env ${e.name} is set twice in container ${c.name}`);
        envNames.add(e.name);
      }
      for (const from of c.envFrom ?? []) {
        const ref = from.configMapRef?.name;
        if (ref && !objects.some((o) => o.kind === 'ConfigMap' && o.metadata?.name === ref) && !from.configMapRef.optional) {
          problems.push(`${where}: envFrom ConfigMap ${ref} is not part of the release`);
        }
      }
    }
  }

  // Services: ports, and what they select and target.
  for (const svc of byKind('Service')) {
    const ports: Obj[] = svc.spec?.ports ?? [];
    const names = new Set<string>();
    const numbers = new Set<string>();
    for (const p of ports) {
      if (!isPortNumber(p.port)) problems.push(`${id(svc)}: port ${p.port} is outside 1-65535`);
      if (p.nodePort !== undefined && !(Number.isInteger(p.nodePort) && p.nodePort >= 30000 && p.nodePort <= 32767)) {
        problems.push(`${id(svc)}: nodePort ${p.nodePort} is outside 30000-32767`);
      }
      if (ports.length > 1 && !p.name) problems.push(`${id(svc)}: every port of a multi-port Service needs a name`);
      if (p.name !== undefined) {
        if (!DNS1123_LABEL.test(p.name) || p.name.length > 63) problems.push(`${id(svc)}: port name "${p.name}" is not a DNS-1123 label`);
        if (names.has(p.name)) problems.push(`${id(svc)}: port name "${p.name}" is used twice`);
        names.add(p.name);
      }
      const key = `${p.port}/${p.protocol ?? 'TCP'}`;
      if (numbers.has(key)) problems.push(`${id(svc)}: port ${key} is declared twice`);
      numbers.add(key);
    }
    if (svc.spec?.type === 'ExternalName') continue;
    const selected = podsSelectedBy(svc.spec?.selector);
    if (selected.length === 0) {
      problems.push(`${id(svc)}: its selector selects no pod of the release`);
      continue;
    }
    for (const p of ports) {
      const target = p.targetPort ?? p.port;
      if (typeof target === 'number' && !isPortNumber(target)) problems.push(`${id(svc)}: targetPort ${target} is outside 1-65535`);
      if (typeof target === 'string') {
        if (!isPortName(target)) problems.push(`${id(svc)}: targetPort "${target}" is not an IANA service name`);
        for (const pod of selected) {
          if (!portsOf(pod).some((cp) => cp.name === target)) problems.push(`${id(svc)}: targetPort "${target}" is not a port of ${id(pod.owner)}`);
        }
      }
    }
  }
  const servicePort = (name: string, port: Obj) => {
    const svc = byKind('Service').find((s) => s.metadata?.name === name);
    if (!svc) return `no Service ${name}`;
    const ok = port.name !== undefined ? svc.spec.ports.some((p: Obj) => p.name === port.name) : svc.spec.ports.some((p: Obj) => p.port === port.number);
    return ok ? undefined : `Service ${name} has no port ${port.name ?? port.number}`;
  };

  // Ingress backends.
  for (const ing of byKind('Ingress')) {
    const backends: Obj[] = [
      ...(ing.spec?.defaultBackend ? [ing.spec.defaultBackend] : []),
      ...(ing.spec?.rules ?? []).flatMap((r: Obj) => (r.http?.paths ?? []).map((p: Obj) => p.backend)),
    ];
    for (const b of backends) {
      if (!b.service) continue;
      if (b.service.port?.number !== undefined && !isPortNumber(b.service.port.number)) problems.push(`${id(ing)}: backend port ${b.service.port.number} is outside 1-65535`);
      const missing = servicePort(b.service.name, b.service.port ?? {});
      if (missing) problems.push(`${id(ing)}: backend: ${missing}`);
    }
  }

  // ServiceMonitors: each endpoint's port must be a named port of a Service they select.
  for (const sm of byKind('ServiceMonitor')) {
    const selected = byKind('Service').filter((s) => matches(sm.spec?.selector?.matchLabels, s.metadata?.labels));
    if (selected.length === 0) problems.push(`${id(sm)}: its selector selects no Service of the release`);
    for (const e of sm.spec?.endpoints ?? []) {
      if (typeof e.port === 'string' && !selected.some((s) => s.spec.ports.some((p: Obj) => p.name === e.port))) {
        problems.push(`${id(sm)}: endpoint port "${e.port}" is not a port of any Service it selects`);
      }
    }
  }

  // HPAs and PDBs.
  for (const hpa of byKind('HorizontalPodAutoscaler')) {
    const ref = hpa.spec?.scaleTargetRef ?? {};
    if (!objects.some((o) => o.kind === ref.kind && o.metadata?.name === ref.name)) problems.push(`${id(hpa)}: scale target ${ref.kind}/${ref.name} is not part of the release`);
    if (hpa.spec?.minReplicas > hpa.spec?.maxReplicas) problems.push(`${id(hpa)}: minReplicas is above maxReplicas`);
  }
  for (const pdb of byKind('PodDisruptionBudget')) {
    if (podsSelectedBy(pdb.spec?.selector?.matchLabels).length === 0) problems.push(`${id(pdb)}: its selector selects no pod of the release`);
  }

  // NetworkPolicies: named ports must be ports of the pods they protect.
  for (const np of byKind('NetworkPolicy')) {
    const selected = podsSelectedBy(np.spec?.podSelector?.matchLabels);
    if (selected.length === 0) problems.push(`${id(np)}: its podSelector selects no pod of the release`);
    for (const rule of np.spec?.ingress ?? []) {
      for (const p of rule.ports ?? []) {
        if (typeof p.port === 'number' && !isPortNumber(p.port)) problems.push(`${id(np)}: port ${p.port} is outside 1-65535`);
        if (typeof p.port === 'string' && !selected.every((pod) => portsOf(pod).some((cp) => cp.name === p.port))) {
          problems.push(`${id(np)}: port "${p.port}" is not a port of every pod it selects`);
        }
      }
    }
  }
  return problems;
}
