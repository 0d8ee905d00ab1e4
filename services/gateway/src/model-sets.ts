/**
 * The model sets this gateway serves side by side (MODEL_DIR's list, in its order): each set's name → what the
 * gateway knows of it (ServedModel) and the stages that run its jobs (over NATS: that set's subjects). The first is
 * the default: a request that names no `model` runs there, and so does a queued job from before jobs named their set.
 */
import { PlatformError } from '@diffusevae/contracts';
import type { ModelManifest, Precision } from '@diffusevae/models';
import type { Stages } from '@diffusevae/pipeline';
import { servedModel, type ServedModel } from './model.js';

/** One served set: its name (manifest.name), what the gateway knows of it, and where its jobs run. */
export interface ServedSet {
  readonly name: string;
  readonly model: ServedModel;
  readonly stages: Stages;
  /** the first set of MODEL_DIR */
  readonly isDefault: boolean;
}

/** A set as the gateway is given it: its manifest.json and its stages. */
export interface SetSource {
  manifest: ModelManifest;
  stages: Stages;
}

export class ModelSets {
  private readonly byName: ReadonlyMap<string, ServedSet>;
  /** every served set, in MODEL_DIR order (the default first) */
  readonly list: readonly ServedSet[];

  constructor(sets: readonly { model: ServedModel; stages: Stages }[]) {
    if (sets.length === 0) throw new Error('a gateway serves at least one model set');
    const list = sets.map((s, i) => ({ name: s.model.manifest.name, model: s.model, stages: s.stages, isDefault: i === 0 }));
    const byName = new Map<string, ServedSet>();
    for (const s of list) {
      if (byName.has(s.name)) throw new Error(`two model sets are named ${s.name}: each set's name must differ`);
      byName.set(s.name, s);
    }
    this.list = list;
    this.byName = byName;
  }

  /** The sets from their manifests (`refinerPrecision`: the refiner file every set's job manifests quote). */
  static of(sources: readonly SetSource[], refinerPrecision?: Precision): ModelSets {
    return new ModelSets(sources.map((s) => ({ model: servedModel(s.manifest, refinerPrecision), stages: s.stages })));
  }

  get default(): ServedSet {
    return this.list[0]!;
  }

  get names(): string[] {
    return this.list.map((s) => s.name);
  }

  /**
   * The set a request names in `field` (`model` of a mutation's input); null or omitted: the default set. An
   * unknown name is BAD_USER_INPUT naming the field and the served sets.
   */
  pick(name: string | null | undefined, field = 'input.model'): ServedSet {
    if (name == null) return this.default;
    const set = typeof name === 'string' ? this.byName.get(name) : undefined;
    if (!set) throw PlatformError.badInput(field, `unknown model set ${JSON.stringify(typeof name === 'string' && name.length > 64 ? `${name.slice(0, 64)}…` : name)}; served: ${this.names.join(', ')}`);
    return set;
  }

  /**
   * The set a queued job or a manifest recorded, when this gateway serves it; none recorded (queued before jobs named
   * their set): the default set.
   */
  get(name: string | undefined): ServedSet | undefined {
    return name === undefined ? this.default : this.byName.get(name);
  }
}
