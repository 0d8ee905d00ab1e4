/**
 * deploy/ (Dockerfile, compose.yaml, k8s/) cannot be run here (no Docker engine, no cluster): these checks keep
 * it in step with the repository instead. Every folder of services/ runs from the one image, in compose and in
 * Kubernetes, with SERVICE naming it and NATS_URL set; nothing names a service that no longer exists.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { NATS_IDENTITIES } from '@diffusevae/contracts';
import { deploymentNatsConfig, passwordVariable } from '../src/nats-auth.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const DEPLOY = path.join(ROOT, 'deploy');
const SERVICES = readdirSync(path.join(ROOT, 'services'), { withFileTypes: true })
  .filter((d) => d.isDirectory())
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

  it('copies only paths that exist in the repository', () => {
    const sources = dockerfile
      .split('\n')
      .filter((l) => /^COPY /.test(l) && !l.includes('--from='))
      .flatMap((l) => l.split(/\s+/).slice(1, -1).filter((a) => !a.startsWith('--')))
      .filter((src) => src !== '.');
    expect(sources).toEqual(expect.arrayContaining(['libs/', 'services/', 'models/']));
    for (const src of sources) expect(existsSync(path.join(ROOT, src)), src).toBe(true);
  });

  it('runs services/$SERVICE/src/main.ts with tsx', () => {
    expect(read('entrypoint.sh')).toContain('main="services/$SERVICE/src/main.ts"');
    expect(read('entrypoint.sh')).toContain('exec node --import tsx "$main"');
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
    expect(Array.isArray(s!.depends_on) ? s!.depends_on : Object.keys(s!.depends_on ?? {})).toContain('nats');
    expect(s!.restart).toBeDefined();
    expect(s!.deploy?.replicas).toBeGreaterThanOrEqual(1);
  });

  it('names no service that services/ lacks; refiner 2 replicas; gateway on :4000', () => {
    expect(Object.keys(compose.services).sort()).toEqual([...SERVICES, 'nats'].sort());
    expect(compose.services.refiner!.deploy?.replicas).toBe(2);
    expect(compose.services.gateway!.ports).toContain('4000:4000');
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
