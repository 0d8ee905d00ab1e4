/** The job form: kind, the kind's own fields, the shared sampler settings, Run and Cancel. */
import type { FormEvent, ReactNode } from 'react';
import { Checkbox, NumberField, SelectField } from './Field';
import { FORM_KINDS, scheduleChoices, takesImage, type FieldErrors, type FormKind, type FormState, type SamplerForm } from './form';
import { ImageDrop } from './ImageDrop';
import type { PreparedImage, SourceImage } from './image';
import { maxSteps } from './model';
import type { ModelInfo } from './types';

const SPACING_LABELS: Record<string, string> = { LEADING: 'Leading', TRAILING: 'Trailing', LINSPACE: 'Linspace', QUAD: 'Quadratic' };
const VARIANCE_LABELS: Record<string, string> = { FIXEDLARGE: 'Fixed large (β)', FIXEDSMALL: 'Fixed small (β̃)' };
const SCHEDULE_LABELS: Record<string, string> = { '': 'Training schedule', LOG_SNR: 'Log-SNR uniform (σ)', KARRAS: 'Karras, ρ = 7 (σ)' };

interface JobFormProps {
  model: ModelInfo;
  /** every set the gateway serves: a choice of them when there are several */
  models: ModelInfo[];
  onModel: (model: ModelInfo) => void;
  form: FormState;
  onChange: (form: FormState) => void;
  errors: FieldErrors;
  image: { source: SourceImage | null; prepared: PreparedImage | null; note: string | null; target: { width: number; height: number } | null };
  onImageFile: (file: File) => void;
  onImageClear: () => void;
  onSubmit: () => void;
  onCancel: () => void;
  onReset: () => void;
  busy: boolean;
  canCancel: boolean;
  alert: ReactNode;
}

export function JobForm({ model, models, onModel, form, onChange, errors, image, onImageFile, onImageClear, onSubmit, onCancel, onReset, busy, canCancel, alert }: JobFormProps) {
  const set = <K extends keyof FormState>(key: K, value: FormState[K]) => onChange({ ...form, [key]: value });
  const setSampler = <K extends keyof SamplerForm>(key: K, value: SamplerForm[K]) => onChange({ ...form, sampler: { ...form.sampler, [key]: value } });
  const L = model.limits;
  const d = model.defaults;
  const kindInfo = FORM_KINDS.find((k) => k.kind === form.kind)!;
  const refines = !(form.kind === 'generate' && !form.refine);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    onSubmit();
  };

  return (
    <form className="panel form" onSubmit={submit} noValidate aria-labelledby="form-title">
      <h2 id="form-title" className="panel__title">
        New job
      </h2>

      <div className="kinds" role="radiogroup" aria-label="Job kind">
        {FORM_KINDS.map((k) => (
          <label key={k.kind} className={`kind${form.kind === k.kind ? ' kind--on' : ''}`}>
            <input type="radio" name="job-kind" value={k.kind} checked={form.kind === k.kind} onChange={() => set('kind', k.kind as FormKind)} />
            <span>{k.label}</span>
          </label>
        ))}
      </div>
      <p className="form__desc">{kindInfo.description}</p>

      {models.length > 1 ? (
        <SelectField
          label="Model set"
          value={model.name}
          options={models.map((m) => ({ value: m.name, label: `${m.name}${m.default ? ' (default)' : ''}` }))}
          onChange={(name) => {
            const next = models.find((m) => m.name === name);
            if (next) onModel(next);
          }}
          hint="Each set has its own networks, limits and defaults: the form starts again from the set's defaults"
          error={errors['input.model']}
        />
      ) : null}

      {takesImage(form.kind) ? (
        <ImageDrop
          source={image.source}
          prepared={image.prepared}
          note={image.note}
          target={image.target}
          error={errors['input.image']}
          onFile={onImageFile}
          onClear={onImageClear}
        />
      ) : null}

      <div className="grid2">
        {form.kind === 'superResolve' ? (
          <SelectField
            label="Scale"
            value={form.scale}
            options={model.scales.map((s) => ({ value: s, label: `×${s}` }))}
            onChange={(v) => set('scale', v)}
            error={errors['input.scale']}
          />
        ) : null}

        {form.kind === 'interpolate' ? (
          <>
            <NumberField label="From seed" value={form.fromSeed} onChange={(v) => set('fromSeed', v)} min={0} max={L.maxSeed} placeholder="random" error={errors['input.from.seed']} />
            <NumberField label="To seed" value={form.toSeed} onChange={(v) => set('toSeed', v)} min={0} max={L.maxSeed} placeholder="random" error={errors['input.to.seed']} />
            <NumberField label="Points" value={form.points} onChange={(v) => set('points', v)} min={2} max={L.maxPoints} hint={`2–${L.maxPoints} images along the path`} error={errors['input.points']} />
          </>
        ) : (
          <NumberField label="Count" value={form.count} onChange={(v) => set('count', v)} min={1} max={L.maxCount} hint={`1–${L.maxCount}`} error={errors['input.count']} />
        )}

        <NumberField
          label="Seed"
          value={form.seed}
          onChange={(v) => set('seed', v)}
          min={0}
          max={L.maxSeed}
          placeholder="random"
          hint={form.kind === 'interpolate' ? 'DDPM noise, fixed along the path' : 'Empty: random'}
          error={errors['input.seed']}
        />

        {form.kind === 'generate' || form.kind === 'interpolate' ? (
          <NumberField
            label="Latent temperature"
            value={form.latentTemperature}
            onChange={(v) => set('latentTemperature', v)}
            min={0}
            max={2}
            step="any"
            hint="λ_z in (0, 2]"
            error={errors['input.latentTemperature']}
          />
        ) : null}

        {form.kind === 'denoise' ? (
          <NumberField
            label="Noise σ"
            value={form.sigma}
            onChange={(v) => set('sigma', v)}
            min={0}
            max={1}
            step="any"
            placeholder="estimate"
            hint="On [0, 1] pixels; empty: estimated"
            error={errors['input.sigma']}
          />
        ) : null}
      </div>

      {form.kind === 'generate' ? (
        <Checkbox label="Refine with the DDPM (stage 2)" checked={form.refine} onChange={(v) => set('refine', v)} hint="Off: return the VAE samples" />
      ) : null}
      {form.kind === 'reconstruct' ? <Checkbox label="Use the mean μ" checked={form.useMean} onChange={(v) => set('useMean', v)} hint="Decode μ instead of z ~ q(z|x)" /> : null}
      {form.kind === 'superResolve' ? (
        <Checkbox label="Through the VAE" checked={form.throughVae} onChange={(v) => set('throughVae', v)} hint="Encoder → decoder before refining" />
      ) : null}

      <fieldset className="sampler" disabled={!refines}>
        <legend>Sampler settings{refines ? '' : ' (not used without refining)'}</legend>
        <div className="grid2">
          <SelectField
            label="Sampler"
            value={form.sampler.kind}
            options={model.samplers.map((s) => ({ value: s, label: s }))}
            onChange={(v) => setSampler('kind', v)}
          />
          <NumberField
            label="Steps"
            value={form.sampler.steps}
            onChange={(v) => setSampler('steps', v)}
            min={1}
            max={maxSteps(model)}
            hint={`1–${maxSteps(model)}`}
            error={errors['input.sampler.steps']}
          />
          {form.sampler.kind === 'DDIM' ? (
            <NumberField
              label="Eta"
              value={form.sampler.eta}
              onChange={(v) => setSampler('eta', v)}
              min={0}
              max={1}
              step="any"
              placeholder={d.sampler.eta == null ? 'default' : String(d.sampler.eta)}
              hint="0 deterministic, 1 DDPM-like"
              error={errors['input.sampler.eta']}
            />
          ) : (
            <SelectField
              label="Variance type"
              value={form.sampler.varianceType}
              options={model.varianceTypes.map((v) => ({ value: v, label: VARIANCE_LABELS[v] ?? v }))}
              onChange={(v) => setSampler('varianceType', v)}
            />
          )}
          <NumberField
            label="Temperature"
            value={form.sampler.temperature}
            onChange={(v) => setSampler('temperature', v)}
            min={0}
            max={2}
            step="any"
            hint="λ in (0, 2]"
            error={errors['input.sampler.temperature']}
          />
          <SelectField
            label="Timestep spacing"
            value={form.sampler.timestepSpacing}
            options={model.timestepSpacings.map((s) => ({ value: s, label: SPACING_LABELS[s] ?? s }))}
            onChange={(v) => setSampler('timestepSpacing', v)}
          />
          {scheduleChoices(model).length > 1 && form.kind !== 'denoise' ? (
            <SelectField
              label="Noise schedule"
              value={form.sampler.schedule}
              options={scheduleChoices(model).map((k) => ({ value: k, label: SCHEDULE_LABELS[k] ?? k }))}
              onChange={(v) => setSampler('schedule', v)}
              hint="This set is conditioned on the noise level: log-SNR with DPM++ 2M SDE measured best at 10 steps"
            />
          ) : null}
        </div>
        <Checkbox label="Clip x̂₀ to [−1, 1]" checked={form.sampler.clipSample} onChange={(v) => setSampler('clipSample', v)} />
      </fieldset>

      <div className="actions">
        <button type="submit" className="btn btn--primary" disabled={busy}>
          <svg viewBox="0 0 24 24" aria-hidden="true" focusable="false">
            <path d="M8 5v14l11-7z" fill="currentColor" />
          </svg>
          Run
        </button>
        <button type="button" className="btn" onClick={onCancel} disabled={!canCancel}>
          Cancel
        </button>
        <button type="button" className="btn btn--ghost btn--small" onClick={onReset}>
          Reset to defaults
        </button>
      </div>
      {alert}
    </form>
  );
}
