/**
 * deploy/ (Dockerfile, compose.yaml, k8s/) cannot be run here (no Docker engine, no cluster): these checks keep
 * it in step with the repository instead. Every folder of services/ runs from the one image, in compose and in
 * Kubernetes, with SERVICE naming it and NATS_URL set; nothing names a service that no longer exists.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { JETSTREAM, NATS_IDENTITIES } from '@diffusevae/contracts';
import { Metrics, gatewayMetrics, loadConfig, natsMetrics, refinerMetrics, requestMetrics, schedulerMetrics } from '@diffusevae/service-kit';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import { PodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { findNatsServer } from '../src/nats.js';
import { deploymentNatsConfig, helmNatsAuthorization, passwordVariable } from '../src/nats-auth.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const DEPLOY = path.join(ROOT, 'deploy');
// the processes: folders of services/ with a main (services/playground is pages the gateway serves, not a process)
const SERVICES = readdirSync(path.join(ROOT, 'services'), { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(path.join(ROOT, 'services', d.name, 'src', 'main.ts')))
  .map((d) => d.name)
  .sort();

const read = (rel: string) => readFileSync(path.join(DEPLOY, rel), 'utf8');
const mainOf = (service: string) => path.join(ROOT, 'services', service, 'src', 'main.ts');

type EnvList = Array<string | { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }>;

/** Kubernetes' [{ name, valueFrom: { secretKeyRef } }] → { NAME: 'secret/key' } */
function secretRefs(env: EnvList | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of env ?? []) if (typeof e !== 'string' && e.valueFrom?.secretKeyRef) out[e.name] = `${e.valueFrom.secretKeyRef.name}/${e.valueFrom.secretKeyRef.key}`;
  return out;
}

/** compose's map or KEY=VALUE list, Kubernetes' [{ name, value }] → a plain map */
function envMap(env: Record<string, unknown> | EnvList | undefined): Record<string, string> {
  if (!env) return {};
  if (!Array.isArray(env)) return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)]));
  return Object.fromEntries(
    env.map((e) => {
      if (typeof e !== 'string') return [e.name, e.value ?? ''];
      const i = e.indexOf('=');
      return i < 0 ? [e, ''] : [e.slice(0, i), e.slice(i + 1)];
    }),
  );
}

it('services/ has the five processes the deploy files expect', () => {
  expect(SERVICES).toEqual(['encoder', 'gateway', 'refiner', 'scheduler', 'vae-decoder']);
  for (const s of SERVICES) expect(existsSync(mainOf(s)), mainOf(s)).toBe(true);
});

describe('deploy/Dockerfile and deploy/entrypoint.sh', () => {
  const dockerfile = read('Dockerfile');

  it('builds on node:20-bookworm-slim, runs as a non-root user, starts through the entrypoint', () => {
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:20-bookworm-slim$/m);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["diffusevae-entrypoint"\]$/m);
    expect(dockerfile).toMatch(/^COPY .*deploy\/entrypoint\.sh \/usr\/local\/bin\/diffusevae-entrypoint$/m);
  });

  it('is a production image: bundles built in a build stage, production dependencies only, NODE_ENV, a HEALTHCHECK', () => {
    const env = Object.fromEntries(
      dockerfile
        .replace(/\\\n\s*/g, ' ')
        .split('\n')
        .filter((l) => l.startsWith('ENV '))
        .flatMap((l) => l.slice(4).trim().split(/\s+/))
        .map((kv) => kv.split('=')),
    );
    expect(env).toMatchObject({ NODE_ENV: 'production', MODEL_DIR: '/app/models/fmnist', METRICS_PORT: '9464' });
    expect(dockerfile).toMatch(/^RUN npm run build$/m);
    expect(JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts.build).toBeDefined();
    // the runtime stage (the last): the build's dist/, its production install, the models; no sources, no dev tools
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    expect(runtime).toMatch(/^COPY --from=build \/src\/dist\/ \.\/$/m);
    expect(runtime).toMatch(/npm ci --omit=dev /);
    expect(runtime).not.toMatch(/^COPY (libs|services|tools)\//m);
    expect(runtime).toMatch(/^HEALTHCHECK .*CMD \["diffusevae-healthcheck"\]$/m);
    expect(runtime).toMatch(/^COPY .*deploy\/healthcheck\.mjs \/usr\/local\/bin\/diffusevae-healthcheck$/m);
  });

  it('copies only paths that exist in the repository', () => {
    const sources = dockerfile
      .split('\n')
      .filter((l) => /^COPY /.test(l) && !l.includes('--from='))
      .flatMap((l) => l.split(/\s+/).slice(1, -1).filter((a) => !a.startsWith('--')))
      .filter((src) => src !== '.');
    expect(sources).toEqual(expect.arrayContaining(['libs/', 'services/', 'tools/build/', 'tools/keys/', 'models/', 'deploy/healthcheck.mjs']));
    for (const src of sources) expect(existsSync(path.join(ROOT, src)), src).toBe(true);
  });

  it('runs the bundle dist/$SERVICE/main.mjs with node (tools/build/test/image.test.ts runs it)', () => {
    expect(read('entrypoint.sh')).toContain('main="$app/dist/$SERVICE/main.mjs"');
    expect(read('entrypoint.sh')).toContain('exec node --enable-source-maps "$main"');
  });
});

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, unknown> | EnvList;
  depends_on?: Record<string, unknown> | string[];
  restart?: string;
  healthcheck?: { test: string[] };
  ports?: string[];
  deploy?: { replicas?: number };
}

describe('deploy/compose.yaml', () => {
  const compose = parse(read('compose.yaml'), { merge: true }) as { services: Record<string, ComposeService> };
  const image = compose.services.gateway?.image;

  it('runs nats with JetStream and a healthcheck', () => {
    const nats = compose.services.nats!;
    expect(nats.image).toMatch(/^nats:2\.10\b/);
    expect(nats.command).toContain('-js');
    expect(nats.healthcheck?.test.length).toBeGreaterThan(1);
    expect(nats.restart).toBeDefined();
  });

  it.each(SERVICES)('runs %s from the one image, SERVICE and NATS_URL set', (name) => {
    const s = compose.services[name];
    expect(s, `no compose service ${name}`).toBeDefined();
    expect(s!.image).toBe(image);
    expect(s!.build?.dockerfile).toBe('deploy/Dockerfile');
    expect(path.resolve(DEPLOY, s!.build!.context)).toBe(ROOT);
    const env = envMap(s!.environment);
    expect(env.SERVICE).toBe(name);
    expect(env.NATS_URL).toBe('nats://nats:4222');
    expect(env.NODE_ENV).toBe('production');
    expect(s!.healthcheck?.test).toEqual(['CMD', 'diffusevae-healthcheck', '/readyz']);
    if (name !== 'gateway') expect(env.METRICS_PORT).toBe('9464');
    // a service that runs a model gets its share of the cores (onnxruntime's default is all of them, in each replica)
    if (/ModelSet\.load\(/.test(readFileSync(mainOf(name), 'utf8'))) expect(Number(env.ORT_THREADS), 'ORT_THREADS').toBeGreaterThanOrEqual(1);
    expect(Array.isArray(s!.depends_on) ? s!.depends_on : Object.keys(s!.depends_on ?? {})).toContain('nats');
    expect(s!.restart).toBeDefined();
    expect(s!.deploy?.replicas).toBeGreaterThanOrEqual(1);
  });

  it('names no service that services/ lacks; refiner 2 replicas; gateway on :4000', () => {
    expect(Object.keys(compose.services).sort()).toEqual([...SERVICES, 'nats'].sort());
    expect(compose.services.refiner!.deploy?.replicas).toBe(2);
    expect(compose.services.gateway!.ports).toContain('4000:4000');
  });

  it('starts the gateway once nats and every service are healthy', () => {
    const deps = compose.services.gateway!.depends_on as Record<string, { condition?: string }>;
    for (const s of ['nats', ...SERVICES.filter((n) => n !== 'gateway')]) expect(deps[s]?.condition, s).toBe('service_healthy');
  });
});

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  /** ConfigMap */
  data?: Record<string, string>;
  /** Secret */
  stringData?: Record<string, string>;
  spec?: {
    replicas?: number;
    /** a Service's label map, a workload's { matchLabels } */
    selector?: Record<string, unknown>;
    scaleTargetRef?: { kind: string; name: string };
    template?: {
      metadata: { labels: Record<string, string> };
      spec: {
        containers: Array<{
          name: string;
          image: string;
          args?: string[];
          env?: EnvList;
          volumeMounts?: Array<{ name: string; mountPath: string }>;
          resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
        }>;
        volumes?: Array<{ name: string; configMap?: { name: string } }>;
      };
    };
  };
}

describe('deploy/k8s', () => {
  const kustomization = parse(read('k8s/kustomization.yaml')) as { namespace: string; resources: string[]; images: Array<{ name: string }> };
  const objects = kustomization.resources.flatMap((file) =>
    parseAllDocuments(read(path.join('k8s', file))).map((doc) => doc.toJS() as K8sObject),
  );
  const deployments = objects.filter((o) => o.kind === 'Deployment');
  const workloads = objects.filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet');

  it('kustomization lists every manifest of the folder, all in one namespace', () => {
    const files = readdirSync(path.join(DEPLOY, 'k8s')).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    expect([...kustomization.resources].sort()).toEqual(files.sort());
    for (const o of objects) if (o.kind !== 'Namespace') expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe(kustomization.namespace);
  });

  it('has one Deployment per service, each naming an existing service with NATS_URL set', () => {
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual(SERVICES);
    for (const d of deployments) {
      const [container] = d.spec!.template!.spec.containers;
      const env = envMap(container!.env);
      expect(env.SERVICE, d.metadata.name).toBe(d.metadata.name);
      expect(existsSync(mainOf(env.SERVICE!)), env.SERVICE).toBe(true);
      expect(env.NATS_URL).toBe('nats://nats:4222');
      expect(kustomization.images.map((i) => i.name)).toContain(container!.image.split(':')[0]);
      expect(container!.resources?.requests?.cpu, d.metadata.name).toBeDefined();
      expect(container!.resources?.limits?.memory, d.metadata.name).toBeDefined();
    }
  });

  it('selectors match their pods, and the nats and gateway Services reach a workload', () => {
    for (const w of workloads) {
      expect(w.spec!.template!.metadata.labels).toMatchObject(w.spec!.selector!.matchLabels as Record<string, string>);
    }
    for (const svc of objects.filter((o) => o.kind === 'Service')) {
      const selector = svc.spec!.selector as Record<string, string>;
      expect(
        workloads.some((w) => Object.entries(selector).every(([k, v]) => w.spec!.template!.metadata.labels[k] === v)),
        `Service ${svc.metadata.name}`,
      ).toBe(true);
    }
    expect(objects.some((o) => o.kind === 'Service' && o.metadata.name === 'nats')).toBe(true);
    expect(objects.some((o) => o.kind === 'Service' && o.metadata.name === 'gateway')).toBe(true);
  });

  it('gives every Deployment its own NATS identity, its password from the nats-auth Secret (placeholders only)', () => {
    const secret = objects.find((o) => o.kind === 'Secret' && o.metadata.name === 'nats-auth');
    expect(secret, 'Secret nats-auth').toBeDefined();
    expect(Object.keys(secret!.stringData!).sort()).toEqual(NATS_IDENTITIES.map(passwordVariable).sort());
    // never real secrets in the repository
    for (const v of Object.values(secret!.stringData!)) expect(v).toBe('REPLACE_ME');
    for (const d of deployments) {
      const [container] = d.spec!.template!.spec.containers;
      const identity = d.metadata.name as (typeof NATS_IDENTITIES)[number];
      expect(NATS_IDENTITIES, d.metadata.name).toContain(identity);
      expect(envMap(container!.env).NATS_USER, d.metadata.name).toBe(identity);
      expect(secretRefs(container!.env).NATS_PASSWORD, d.metadata.name).toBe(`nats-auth/${passwordVariable(identity)}`);
    }
  });

  it('runs nats with the users and permissions of libs/contracts, rendered into its ConfigMap, passwords from the Secret', () => {
    const nats = workloads.find((w) => w.metadata.name === 'nats')!;
    const [container] = nats.spec!.template!.spec.containers;
    const config = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'nats-config');
    // regenerate: see the comment at the top of deploy/k8s/nats.yaml
    expect(config?.data?.['nats.conf']).toBe(deploymentNatsConfig());
    const volume = nats.spec!.template!.spec.volumes?.find((v) => v.configMap?.name === 'nats-config');
    const mount = container!.volumeMounts?.find((m) => m.name === volume?.name);
    expect(container!.args).toEqual(['-c', `${mount!.mountPath}/nats.conf`]);
    const refs = secretRefs(container!.env);
    for (const id of NATS_IDENTITIES) expect(refs[passwordVariable(id)], id).toBe(`nats-auth/${passwordVariable(id)}`);
  });

  it('autoscales the refiner and the scheduler, whose Deployments leave replicas to the autoscaler', () => {
    const hpas = objects.filter((o) => o.kind === 'HorizontalPodAutoscaler');
    expect(hpas.map((h) => h.spec!.scaleTargetRef!.name).sort()).toEqual(['refiner', 'scheduler']);
    for (const h of hpas) {
      const target = deployments.find((d) => d.metadata.name === h.spec!.scaleTargetRef!.name);
      expect(target, h.metadata.name).toBeDefined();
      expect(target!.spec!.replicas, `${target!.metadata.name}.spec.replicas`).toBeUndefined();
    }
  });
});

/*
 * Kubernetes beyond the base: every manifest checked against the Kubernetes (and KEDA, prometheus-operator) schemas,
 * the kustomize builds, probes, resources, PodDisruptionBudgets, autoscaling, monitoring, the NATS Helm values and
 * the Grafana dashboard, each against the code it describes (metric names, stream names, permissions).
 */

/** The kubernetes-models class of every apiVersion/kind the manifests may use; any other kind fails the test. */
const SCHEMAS: Record<string, new (data: any) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/Secret': Secret,
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
  'monitoring.coreos.com/v1/PodMonitor': PodMonitor,
};

type Obj = Record<string, any>;
interface Kustomization {
  kind?: string;
  namespace?: string;
  resources?: string[];
  components?: string[];
  patches?: Array<{ patch?: string; path?: string; target?: unknown }>;
  images?: Array<{ name: string; newName?: string; newTag?: string }>;
}

const readKustomization = (dir: string) => parse(readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8')) as Kustomization;
const idOf = (o: Obj) => `${o.apiVersion}/${o.kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name}`;
const isMap = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A strategic merge patch as kustomize applies the ones used here: maps merge, null deletes a field, lists of
 * objects that all have a `name` (containers, env) merge by name (new items first, as kustomize puts them), other
 * lists are replaced.
 */
function strategicMerge(target: unknown, patch: unknown): unknown {
  if (Array.isArray(target) && Array.isArray(patch) && [...target, ...patch].every((e) => isMap(e) && typeof e.name === 'string')) {
    const merged = target.map((e: Obj) => {
      const p = (patch as Obj[]).find((q) => q.name === e.name);
      return p ? strategicMerge(e, p) : e;
    });
    return [...(patch as Obj[]).filter((p) => !target.some((e: Obj) => e.name === p.name)), ...merged];
  }
  if (!isMap(target) || !isMap(patch)) return patch;
  const out: Obj = { ...target };
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$')) throw new Error(`patch directive ${k} is not emulated here`);
    if (v === null) delete out[k];
    else out[k] = k in out ? strategicMerge(out[k], v) : v;
  }
  return out;
}

/**
 * `kustomize build` of the kustomizations here: resources (files and folders), components, inline strategic merge
 * patches (`$patch: delete` removes an object), images, namespace. Anything else it does not know fails, so a
 * kustomization that grows past this emulation says so; where kubectl is installed a test compares with it.
 */
function kustomize(dir: string, accumulated: Obj[] = []): Obj[] {
  const k = readKustomization(dir);
  for (const key of Object.keys(k)) {
    expect(['apiVersion', 'kind', 'namespace', 'resources', 'components', 'patches', 'images'], `${dir}: ${key}`).toContain(key);
  }
  let objects = [...accumulated];
  for (const r of k.resources ?? []) {
    const p = path.join(dir, r);
    if (statSync(p).isDirectory()) objects.push(...kustomize(p));
    else objects.push(...parseAllDocuments(readFileSync(p, 'utf8')).map((d) => d.toJS() as Obj));
  }
  for (const c of k.components ?? []) {
    expect(readKustomization(path.join(dir, c)).kind, c).toBe('Component');
    objects = kustomize(path.join(dir, c), objects);
  }
  for (const p of k.patches ?? []) {
    expect(p.path ?? p.target, `${dir}: only inline patches without target are emulated`).toBeUndefined();
    const { $patch, ...patch } = parse(p.patch!) as Obj;
    const i = objects.findIndex((o) => idOf(o) === idOf(patch));
    expect(i, `${dir}: patch of ${idOf(patch)} finds nothing`).toBeGreaterThanOrEqual(0);
    if ($patch === 'delete') objects.splice(i, 1);
    else {
      expect($patch, `${dir}: $patch: ${$patch}`).toBeUndefined();
      objects[i] = strategicMerge(objects[i], patch) as Obj;
    }
  }
  for (const image of k.images ?? []) {
    for (const o of objects) {
      for (const c of o.spec?.template?.spec?.containers ?? []) {
        const [name, tag] = String(c.image).split(':');
        if (name === image.name) c.image = `${image.newName ?? name}:${image.newTag ?? tag}`;
      }
    }
  }
  if (k.namespace) for (const o of objects) if (o.kind !== 'Namespace') o.metadata = { ...o.metadata, namespace: k.namespace };
  return objects;
}

const K8S = path.join(DEPLOY, 'k8s');
const PRODUCTION = path.join(DEPLOY, 'k8s-production');
const COMPONENTS = path.join(K8S, 'components');
const KUSTOMIZATIONS = [K8S, PRODUCTION, ...readdirSync(COMPONENTS).map((c) => path.join(COMPONENTS, c))];
const BUILDS = { base: kustomize(K8S), production: kustomize(PRODUCTION) };
const rel = (p: string) => path.relative(ROOT, p);

const byKind = (objects: Obj[], kind: string) => objects.filter((o) => o.kind === kind);
const containerOf = (d: Obj) => d.spec.template.spec.containers[0] as Obj;
const envOf = (d: Obj) => envMap(containerOf(d).env);
const matches = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);

/** Kubernetes quantities: CPU in cores ("500m", "2"), memory in bytes ("512Mi", "1Gi"). */
function quantity(q: string | number): number {
  const m = /^([0-9.]+)(m|Ki|Mi|Gi|Ti|k|M|G)?$/.exec(String(q));
  expect(m, `quantity ${q}`).not.toBeNull();
  const scale: Record<string, number> = { m: 1e-3, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9 };
  return Number(m![1]) * (m![2] ? scale[m![2]]! : 1);
}

/**
 * Typos the schemas let through (they accept unknown fields): the keys of the parts written by hand most often.
 * Not the whole API, only what a misspelt probe, container field or trigger would hide in.
 */
const KNOWN_KEYS: Record<string, string[]> = {
  container: ['name', 'image', 'imagePullPolicy', 'command', 'args', 'workingDir', 'env', 'envFrom', 'ports', 'resources', 'securityContext', 'volumeMounts', 'startupProbe', 'readinessProbe', 'livenessProbe', 'lifecycle'],
  probe: ['httpGet', 'tcpSocket', 'exec', 'grpc', 'initialDelaySeconds', 'periodSeconds', 'timeoutSeconds', 'successThreshold', 'failureThreshold', 'terminationGracePeriodSeconds'],
  httpGet: ['path', 'port', 'host', 'scheme', 'httpHeaders'],
  resources: ['requests', 'limits'],
  pdbSpec: ['maxUnavailable', 'minAvailable', 'selector', 'unhealthyPodEvictionPolicy'],
  scaledObjectSpec: ['scaleTargetRef', 'minReplicaCount', 'maxReplicaCount', 'idleReplicaCount', 'pollingInterval', 'cooldownPeriod', 'initialCooldownPeriod', 'fallback', 'advanced', 'triggers'],
  trigger: ['type', 'name', 'metadata', 'metricType', 'authenticationRef', 'useCachedMetrics'],
  'trigger:nats-jetstream': ['natsServerMonitoringEndpoint', 'account', 'stream', 'consumer', 'lagThreshold', 'activationLagThreshold', 'useHttps'],
  'trigger:prometheus': ['serverAddress', 'query', 'threshold', 'activationThreshold', 'namespace', 'ignoreNullValues', 'unsafeSsl', 'queryParameters', 'customHeaders', 'authModes'],
  'trigger:cpu': ['value', 'containerName'],
  podMetricsEndpoint: ['port', 'portNumber', 'path', 'interval', 'scrapeTimeout', 'scheme', 'honorLabels', 'relabelings', 'metricRelabelings', 'authorization', 'params'],
};
function knownKeys(what: string, value: Obj | undefined, where: string): void {
  if (!value) return;
  for (const k of Object.keys(value)) expect(KNOWN_KEYS[what], `${where}: unknown field ${k}`).toContain(k);
}

/** Every metric family the code registers, from a real registry's scrape, with the label names of each. */
async function registeredMetrics(): Promise<{ names: Set<string>; families: Set<string>; labels: Set<string> }> {
  const m = new Metrics({ labels: { service: 'test' } });
  requestMetrics(m);
  natsMetrics(m);
  refinerMetrics(m);
  schedulerMetrics(m, () => ({ active: 0, queued: 0 }));
  gatewayMetrics(m, { queueDepth: async () => 0, running: () => 0 });
  const { body } = await m.scrape();
  const names = new Set<string>();
  const families = new Set<string>();
  for (const [, name, type] of body.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    families.add(name!);
    const suffixes = type === 'histogram' ? ['_bucket', '_sum', '_count'] : type === 'summary' ? ['', '_sum', '_count'] : [''];
    for (const s of suffixes) names.add(`${name}${s}`);
  }
  // label names are not in the text until a sample has them: read them from the metric objects
  const labels = new Set(['service', 'le', 'quantile']);
  for (const metric of m.registry.getMetricsAsArray()) for (const l of (metric as unknown as { labelNames?: string[] }).labelNames ?? []) labels.add(l);
  return { names, families, labels };
}

/** Labels Prometheus puts on every target of deploy/prometheus/ and the PodMonitor. */
const TARGET_LABELS = ['namespace', 'pod', 'container', 'instance', 'job', 'endpoint'];
const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan']);

/** The metric names and label names a PromQL expression uses (not a full parser: enough for the queries here). */
function promql(expr: string): { metrics: string[]; labels: string[] } {
  const labels: string[] = [];
  let s = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  s = s.replace(/\{([^}]*)\}/g, (_, inner: string) => {
    for (const [, l] of inner.matchAll(/([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)/g)) labels.push(l!);
    return ' ';
  });
  s = s.replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g, (_, inner: string) => {
    labels.push(...inner.split(',').map((l) => l.trim()).filter(Boolean));
    return ' ';
  });
  s = s.replace(/\[[^\]]*\]/g, ' ');
  const metrics = [...s.matchAll(/\b[A-Za-z_:][A-Za-z0-9_:]*\b(?!\s*\()/g)].map((m) => m[0]).filter((w) => !PROMQL_WORDS.has(w.toLowerCase()));
  return { metrics, labels };
}

describe('deploy/k8s: Kubernetes schemas and kustomize', () => {
  it('every kustomization lists each manifest of its folder and only files that exist; every component is used', () => {
    for (const dir of KUSTOMIZATIONS) {
      const k = readKustomization(dir);
      for (const r of [...(k.resources ?? []), ...(k.components ?? [])]) expect(existsSync(path.join(dir, r)), `${rel(dir)}: ${r}`).toBe(true);
      const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml');
      expect([...(k.resources ?? [])].filter((r) => !statSync(path.join(dir, r)).isDirectory()).sort(), rel(dir)).toEqual(files.sort());
    }
    const used = (readKustomization(PRODUCTION).components ?? []).map((c) => path.resolve(PRODUCTION, c)).sort();
    expect(used).toEqual(readdirSync(COMPONENTS).map((c) => path.join(COMPONENTS, c)).sort());
  });

  it.each(Object.keys(BUILDS))('%s: every object passes the Kubernetes schema of its apiVersion and kind', (build) => {
    const objects = BUILDS[build as keyof typeof BUILDS];
    expect(objects.length).toBeGreaterThan(10);
    for (const o of objects) {
      const Model = SCHEMAS[`${o.apiVersion}/${o.kind}`];
      expect(Model, `${idOf(o)}: no schema for this apiVersion/kind here (add it to SCHEMAS if it is right)`).toBeDefined();
      expect(() => new Model!(o).validate(), idOf(o)).not.toThrow();
    }
    expect(new Set(objects.map(idOf)).size, 'one object per apiVersion/kind/namespace/name').toBe(objects.length);
  });

  it('the schemas do catch a wrong manifest (so the test above means something)', () => {
    const gateway = structuredClone(BUILDS.base.find((o) => o.kind === 'Deployment' && o.metadata.name === 'gateway')!);
    containerOf(gateway).ports[0].containerPort = 'http';
    expect(() => new SCHEMAS['apps/v1/Deployment']!(gateway).validate()).toThrow(/containerPort/);
    const so = structuredClone(BUILDS.production.find((o) => o.kind === 'ScaledObject')!);
    so.spec.triggers[0].metadata.lagThreshold = 48;
    expect(() => new SCHEMAS['keda.sh/v1alpha1/ScaledObject']!(so).validate()).toThrow(/must be string/);
  });

  it('no misspelt field in containers, probes, PodDisruptionBudgets, ScaledObjects and the PodMonitor', () => {
    for (const o of BUILDS.production.concat(BUILDS.base)) {
      for (const c of o.spec?.template?.spec?.containers ?? []) {
        const where = `${idOf(o)} ${c.name}`;
        knownKeys('container', c, where);
        knownKeys('resources', c.resources, where);
        for (const p of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
          knownKeys('probe', c[p], `${where} ${p}`);
          knownKeys('httpGet', c[p]?.httpGet, `${where} ${p}`);
        }
      }
      if (o.kind === 'PodDisruptionBudget') knownKeys('pdbSpec', o.spec, idOf(o));
      if (o.kind === 'ScaledObject') {
        knownKeys('scaledObjectSpec', o.spec, idOf(o));
        for (const t of o.spec.triggers) {
          knownKeys('trigger', t, idOf(o));
          expect(KNOWN_KEYS[`trigger:${t.type}`], `${idOf(o)}: trigger type ${t.type}`).toBeDefined();
          knownKeys(`trigger:${t.type}`, t.metadata, `${idOf(o)} ${t.type}`);
        }
      }
      if (o.kind === 'PodMonitor') for (const e of o.spec.podMetricsEndpoints) knownKeys('podMetricsEndpoint', e, idOf(o));
    }
  });

  const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;
  it.skipIf(!kubectl).each([rel(K8S), rel(PRODUCTION)])('kubectl kustomize %s builds what the emulation above builds', (relDir) => {
    const dir = path.join(ROOT, relDir);
    const out = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
    expect(out.status, out.stderr).toBe(0);
    const real = parseAllDocuments(out.stdout).map((d) => d.toJS() as Obj);
    const sort = (objects: Obj[]) => [...objects].sort((a, b) => idOf(a).localeCompare(idOf(b)));
    expect(sort(kustomize(dir))).toEqual(sort(real));
  });
});

describe('deploy/k8s: probes, resources, PodDisruptionBudgets', () => {
  const deployments = byKind(BUILDS.base, 'Deployment');

  it.each(SERVICES)('%s: startup, readiness and liveness probes on /readyz and /livez of its own port', (name) => {
    const d = deployments.find((o) => o.metadata.name === name)!;
    const c = containerOf(d);
    const env = envOf(d);
    // the four services: the probe listener on METRICS_PORT (a fixed one; 0 would pick a random port); the gateway: PORT
    const portName = name === 'gateway' ? 'http' : 'metrics';
    const port = c.ports?.find((p: Obj) => p.name === portName);
    expect(port, `${name}: containerPort ${portName}`).toBeDefined();
    expect(String(port.containerPort)).toBe(name === 'gateway' ? env.PORT : env.METRICS_PORT);
    expect(c.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: portName });
    expect(c.livenessProbe?.httpGet).toEqual({ path: '/livez', port: portName });
    expect(c.startupProbe?.httpGet?.port).toBe(portName);
    expect(['/readyz', '/livez']).toContain(c.startupProbe.httpGet.path);
    // the startup probe gives a start (models loaded, NATS, the buckets) a minute or more before liveness counts
    expect(c.startupProbe.periodSeconds * c.startupProbe.failureThreshold).toBeGreaterThanOrEqual(60);
    expect(c.livenessProbe.initialDelaySeconds ?? 0, 'liveness waits through the startup probe instead').toBe(0);
    for (const p of [c.startupProbe, c.readinessProbe, c.livenessProbe]) expect(p.timeoutSeconds).toBeLessThan(p.periodSeconds);
    expect(c.livenessProbe.periodSeconds * c.livenessProbe.failureThreshold, 'restart only after 30 s without an answer').toBeGreaterThanOrEqual(30);
  });

  it('every container has CPU and memory requests and limits, requests within limits; ORT_THREADS fits the CPU limit', () => {
    for (const w of [...byKind(BUILDS.base, 'Deployment'), ...byKind(BUILDS.base, 'StatefulSet')]) {
      for (const c of w.spec.template.spec.containers) {
        const where = `${w.metadata.name}/${c.name}`;
        for (const r of ['cpu', 'memory']) {
          expect(c.resources?.requests?.[r], `${where} requests.${r}`).toBeDefined();
          expect(c.resources?.limits?.[r], `${where} limits.${r}`).toBeDefined();
          expect(quantity(c.resources.requests[r]), `${where} ${r}`).toBeLessThanOrEqual(quantity(c.resources.limits[r]));
        }
      }
    }
    // the onnxruntime services: an explicit ORT_THREADS (0 counts the node's cores, not the container's), at most the limit
    for (const name of ['encoder', 'vae-decoder', 'refiner']) {
      const d = deployments.find((o) => o.metadata.name === name)!;
      const threads = Number(envOf(d).ORT_THREADS);
      expect(threads, `${name} ORT_THREADS`).toBeGreaterThanOrEqual(1);
      expect(threads, `${name} ORT_THREADS vs limits.cpu`).toBeLessThanOrEqual(Math.max(1, Math.floor(quantity(containerOf(d).resources.limits.cpu))));
    }
    // the refiner, the CPU-heavy one: as many threads as its CPU limit
    const refiner = deployments.find((o) => o.metadata.name === 'refiner')!;
    expect(Number(envOf(refiner).ORT_THREADS)).toBe(quantity(containerOf(refiner).resources.limits.cpu));
  });

  it('every Deployment has one PodDisruptionBudget that lets a drain through one pod at a time', () => {
    const pdbs = byKind(BUILDS.base, 'PodDisruptionBudget');
    for (const d of deployments) {
      const mine = pdbs.filter((p) => matches(p.spec.selector.matchLabels, d.spec.template.metadata.labels));
      expect(mine.length, `PodDisruptionBudgets of ${d.metadata.name}`).toBe(1);
      // minAvailable on a one-replica Deployment would block every drain
      expect(mine[0]!.spec.maxUnavailable, d.metadata.name).toBe(1);
      expect(mine[0]!.spec.minAvailable).toBeUndefined();
    }
    expect(pdbs.length).toBe(deployments.length);
  });
});

describe('deploy/k8s-production: NATS from the Helm chart, KEDA, prometheus-operator', () => {
  const values = parse(read('helm/nats-values.yaml')) as Obj;
  const production = BUILDS.production;
  const deployments = byKind(production, 'Deployment');
  const scaledObjects = byKind(production, 'ScaledObject');
  const namespace = readKustomization(K8S).namespace!;

  it('nats-values.yaml: a three-server cluster with JetStream on volumes, named like nats.yaml (NATS_URL unchanged)', () => {
    expect(values.config.cluster).toMatchObject({ enabled: true, replicas: 3 });
    expect(values.config.jetstream).toMatchObject({ enabled: true, fileStore: { enabled: true, pvc: { enabled: true } } });
    expect(values.config.monitor).toMatchObject({ enabled: true, port: 8222 });
    expect(values.podDisruptionBudget?.enabled).toBe(true);
    // the chart's client Service is fullnameOverride: the Deployments' NATS_URL names it
    for (const d of deployments) expect(new URL(envOf(d).NATS_URL!).hostname, d.metadata.name).toBe(values.fullnameOverride);
    // nats.yaml's objects are gone from the build, the Secret with the passwords stays
    expect(production.filter((o) => o.metadata.labels?.['app.kubernetes.io/name'] === 'nats').map((o) => o.kind)).toEqual(['Secret']);
  });

  it('nats-values.yaml: the users and permissions of libs/contracts (helmNatsAuthorization), passwords from the Secret', () => {
    // regenerate: see the comment at the top of deploy/helm/nats-values.yaml
    expect(values.config.merge.authorization, stringify({ authorization: helmNatsAuthorization() })).toEqual(helmNatsAuthorization());
    const env = values.container.env as Record<string, Obj>;
    for (const id of NATS_IDENTITIES) expect(env[passwordVariable(id)], id).toEqual({ valueFrom: { secretKeyRef: { name: 'nats-auth', key: passwordVariable(id) } } });
  });

  it('nats-values.yaml: the nats.conf the chart renders from it is one nats-server accepts', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'nats-helm-'));
    try {
      // the chart writes the merged config as JSON and unquotes "<< … >>" (its nats.formatConfig)
      const config = { port: 4222, http_port: values.config.monitor.port, jetstream: { store_dir: path.join(dir, 'js') }, ...values.config.merge };
      const text = JSON.stringify(config, null, 2).replace(/"<<\s+(.*)\s+>>"/g, '$1');
      expect(text).toContain('"password": $GATEWAY_PASSWORD');
      writeFileSync(path.join(dir, 'nats.conf'), text);
      const variables = Object.fromEntries(NATS_IDENTITIES.map((id) => [passwordVariable(id), `p${id.length}e4`]));
      const out = spawnSync(findNatsServer()!, ['-c', path.join(dir, 'nats.conf'), '-t'], { env: { ...process.env, ...variables }, encoding: 'utf8' });
      expect(out.status, out.stderr).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the processes that create streams and buckets make them with as many replicas as the cluster has servers', () => {
    for (const name of ['gateway', 'scheduler']) {
      const env = envOf(deployments.find((d) => d.metadata.name === name)!);
      expect(env.JETSTREAM_REPLICAS, name).toBe(String(values.config.cluster.replicas));
      // the setting the code reads
      expect(loadConfig({ JETSTREAM_REPLICAS: env.JETSTREAM_REPLICAS }).jetstreamReplicas).toBe(values.config.cluster.replicas);
    }
    // the base (one nats-server) leaves the default, 1
    for (const d of byKind(BUILDS.base, 'Deployment')) expect(envOf(d).JETSTREAM_REPLICAS, d.metadata.name).toBeUndefined();
  });

  it('KEDA replaces the CPU HPAs: no Deployment has two autoscalers, and autoscaled ones leave replicas to them', () => {
    expect(byKind(production, 'HorizontalPodAutoscaler')).toEqual([]);
    const targets = scaledObjects.map((s) => s.spec.scaleTargetRef.name).sort();
    expect(targets).toEqual(['gateway', 'refiner', 'scheduler']);
    for (const s of scaledObjects) {
      const target = deployments.find((d) => d.metadata.name === s.spec.scaleTargetRef.name);
      expect(target, idOf(s)).toBeDefined();
      expect(s.spec.scaleTargetRef.kind ?? 'Deployment').toBe('Deployment');
      expect(target!.spec.replicas, `${target!.metadata.name}.spec.replicas`).toBeUndefined();
      expect(s.spec.minReplicaCount, `${idOf(s)}: every process must answer`).toBeGreaterThanOrEqual(1);
      expect(s.spec.maxReplicaCount).toBeGreaterThan(s.spec.minReplicaCount);
      expect(s.spec.cooldownPeriod).toBeGreaterThan(0);
    }
    // and the base's HPAs, for clusters without KEDA, target only Deployments without a ScaledObject there
    const base = byKind(BUILDS.base, 'HorizontalPodAutoscaler');
    expect(base.length).toBeGreaterThan(0);
    for (const h of base) expect(byKind(BUILDS.base, 'ScaledObject').map((s) => s.spec.scaleTargetRef.name)).not.toContain(h.spec.scaleTargetRef.name);
  });

  it('the gateway scales on the job stream of libs/contracts, with a lag threshold within its MAX_ACTIVE_JOBS', () => {
    const so = scaledObjects.find((s) => s.spec.scaleTargetRef.name === 'gateway')!;
    const [trigger] = so.spec.triggers;
    expect(trigger.type).toBe('nats-jetstream');
    expect(trigger.metadata.stream).toBe(JETSTREAM.jobStream);
    expect(trigger.metadata.consumer).toBe(JETSTREAM.jobConsumer);
    expect(trigger.metadata.account).toBe('$G');
    // the headless Service of the chart (and of nats.yaml), its monitoring port: KEDA asks <pod>.<endpoint> in a cluster
    expect(trigger.metadata.natsServerMonitoringEndpoint).toBe(`${values.fullnameOverride}-headless.${namespace}.svc.cluster.local:${values.config.monitor.port}`);
    const headless = BUILDS.base.find((o) => o.kind === 'Service' && o.metadata.name === `${values.fullnameOverride}-headless`)!;
    expect(headless.spec.ports.map((p: Obj) => p.port)).toContain(values.config.monitor.port);
    const lag = Number(trigger.metadata.lagThreshold);
    const maxActive = Number(envOf(deployments.find((d) => d.metadata.name === 'gateway')!).MAX_ACTIVE_JOBS);
    expect(lag).toBeGreaterThan(0);
    expect(lag, 'lagThreshold (queued + running per replica) vs MAX_ACTIVE_JOBS').toBeLessThanOrEqual(maxActive);
  });

  it('the refiner and the scheduler scale on series the code exports; the refiner on its onnxruntime busy time', async () => {
    const { names } = await registeredMetrics();
    const prometheus = scaledObjects.flatMap((s) => s.spec.triggers.filter((t: Obj) => t.type === 'prometheus').map((t: Obj) => ({ so: s.metadata.name, ...t.metadata })));
    expect(prometheus.map((p) => p.so).sort()).toEqual(['refiner', 'scheduler']);
    for (const p of prometheus) {
      const { metrics } = promql(p.query);
      expect(metrics.length, p.query).toBeGreaterThan(0);
      for (const m of metrics) expect(names, `${p.so}: ${m} is not a metric the code registers`).toContain(m);
      expect(Number(p.threshold)).toBeGreaterThan(0);
      expect(p.query).toContain(`namespace="${namespace}"`);
    }
    expect(promql(prometheus.find((p) => p.so === 'refiner')!.query).metrics).toEqual(['diffusevae_refiner_onnxruntime_run_duration_seconds_sum']);
  });

  it('Prometheus scrapes every pod once on its metrics port: the PodMonitor and deploy/prometheus/prometheus.yml', () => {
    const [monitor] = byKind(production, 'PodMonitor');
    const ports = (monitor!.spec.podMetricsEndpoints as Obj[]).map((e) => e.port);
    expect(monitor!.spec.namespaceSelector.matchNames).toEqual([namespace]);
    const job = (parse(read('prometheus/prometheus.yml')) as Obj).scrape_configs.find((j: Obj) => j.job_name === 'diffusevae');
    expect(job.kubernetes_sd_configs).toEqual([{ role: 'pod', namespaces: { names: [namespace] } }]);
    const keep = (label: string) => new RegExp(`^(?:${job.relabel_configs.find((r: Obj) => r.action === 'keep' && r.source_labels[0] === label).regex})$`);
    for (const d of deployments) {
      const labels = d.spec.template.metadata.labels;
      expect(matches(monitor!.spec.selector.matchLabels, labels), d.metadata.name).toBe(true);
      expect(keep('__meta_kubernetes_pod_label_app_kubernetes_io_part_of').test(labels['app.kubernetes.io/part-of'])).toBe(true);
      const named = (containerOf(d).ports as Obj[]).map((p) => p.name).filter((n) => ports.includes(n));
      expect(named.length, `${d.metadata.name}: one scraped port`).toBe(1);
      expect(keep('__meta_kubernetes_pod_container_port_name').test(named[0]), d.metadata.name).toBe(true);
    }
  });
});

describe('deploy/grafana/diffusevae.json', () => {
  const dashboard = JSON.parse(read('grafana/diffusevae.json')) as Obj;
  const panels = (dashboard.panels as Obj[]).filter((p) => p.type !== 'row');
  const exprs = panels.flatMap((p) => (p.targets as Obj[]).map((t) => ({ panel: p.title as string, expr: t.expr as string })));

  it('is a dashboard Grafana imports: unique panel ids, a Prometheus data source variable, every panel placed', () => {
    expect(dashboard.uid).toBe('diffusevae');
    expect(typeof dashboard.schemaVersion).toBe('number');
    const ids = (dashboard.panels as Obj[]).map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const variables = dashboard.templating.list as Obj[];
    expect(variables.find((v) => v.name === 'datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    for (const p of panels) {
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      expect(p.targets.length, p.title).toBeGreaterThan(0);
      expect(new Set(p.targets.map((t: Obj) => t.refId)).size, p.title).toBe(p.targets.length);
    }
  });

  it('uses only metrics and labels the code registers (so it cannot drift), and shows every diffusevae_ metric', async () => {
    const { names, families, labels } = await registeredMetrics();
    const used = new Set<string>();
    for (const { panel, expr } of exprs) {
      const q = promql(expr);
      expect(q.metrics.length, `${panel}: ${expr}`).toBeGreaterThan(0);
      for (const m of q.metrics) {
        expect(names, `${panel}: ${m} is not a metric the code registers (histograms: _bucket, _sum, _count)`).toContain(m);
        used.add(m);
      }
      for (const l of q.labels) expect([...labels, ...TARGET_LABELS], `${panel}: label ${l}`).toContain(l);
      if (/histogram_quantile/.test(expr)) expect(q.labels, `${panel}: histogram_quantile needs le`).toContain('le');
    }
    for (const v of dashboard.templating.list as Obj[]) {
      if (v.type !== 'query') continue;
      const [, metric, label] = /^label_values\((\w+),\s*(\w+)\)$/.exec(v.query.query)!;
      expect(names).toContain(metric);
      expect(TARGET_LABELS).toContain(label);
    }
    // the other way: every platform metric has a panel
    for (const f of [...families].filter((f) => f.startsWith('diffusevae_'))) {
      expect([...used].some((m) => m === f || m.startsWith(`${f}_`)), `${f} has no panel in the dashboard`).toBe(true);
    }
    // the process metrics the issue asks for
    for (const m of ['process_cpu_seconds_total', 'process_resident_memory_bytes']) expect(used).toContain(m);
  });

  it('the PromQL reader finds metric names, not functions, labels or ranges', () => {
    expect(promql('histogram_quantile(0.95, sum by (le, endpoint) (rate(a_bucket{namespace=~"$namespace", x="y"}[$__rate_interval]))) / on(pod) b offset 5m')).toEqual({
      metrics: ['a_bucket', 'b'],
      labels: ['namespace', 'x', 'le', 'endpoint', 'pod'],
    });
  });
});
