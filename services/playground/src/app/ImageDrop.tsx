/** The image input: a file picker labelled "Image" inside a drop zone, with the original and what will be sent. */
import { useId, useState, type DragEvent } from 'react';
import type { PreparedImage, SourceImage } from './image';

interface ImageDropProps {
  source: SourceImage | null;
  prepared: PreparedImage | null;
  note: string | null;
  target: { width: number; height: number } | null;
  error?: string | undefined;
  onFile: (file: File) => void;
  onClear: () => void;
  disabled?: boolean;
}

export function ImageDrop({ source, prepared, note, target, error, onFile, onClear, disabled }: ImageDropProps) {
  const id = useId();
  const [over, setOver] = useState(false);

  const onDrop = (e: DragEvent<HTMLDivElement>) => {
    e.preventDefault();
    setOver(false);
    const file = e.dataTransfer.files[0];
    if (file && !disabled) onFile(file);
  };

  return (
    <div className={`field${error ? ' field--invalid' : ''}`}>
      <div
        className={`drop${over ? ' drop--over' : ''}${source ? ' drop--filled' : ''}`}
        onDragOver={(e) => {
          e.preventDefault();
          e.dataTransfer.dropEffect = 'copy';
          if (!over) setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={onDrop}
      >
        <input
          id={id}
          className="drop__input"
          type="file"
          accept="image/png,image/jpeg,image/webp,image/gif,image/bmp"
          disabled={disabled}
          aria-describedby={`${id}-desc`}
          aria-invalid={error ? true : undefined}
          onChange={(e) => {
            const file = e.currentTarget.files?.[0];
            if (file) onFile(file);
            e.currentTarget.value = '';
          }}
        />
        <label htmlFor={id} className="drop__label">
          <svg className="drop__icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
            <path d="M12 16V4m0 0-4 4m4-4 4 4M4 16v3a1 1 0 0 0 1 1h14a1 1 0 0 0 1-1v-3" fill="none" stroke="currentColor" strokeWidth="1.8" strokeLinecap="round" strokeLinejoin="round" />
          </svg>
          <span className="drop__title">Image</span>
        </label>
        <span className="drop__desc" id={`${id}-desc`}>
          Drop an image here or choose a file (PNG, JPEG, WebP).
          {target ? ` This job takes ${target.width}×${target.height}.` : ''}
        </span>
        {source ? (
          <div className="drop__preview">
            <figure>
              <img src={source.thumbUrl} alt={`Chosen image ${source.name}`} className="thumb" />
              <figcaption>
                {source.width}×{source.height}
              </figcaption>
            </figure>
            {prepared ? (
              <>
                <span className="drop__arrow" aria-hidden="true">
                  →
                </span>
                <figure>
                  <img src={prepared.dataUrl} alt="Input as sent" className="thumb pixelated" />
                  <figcaption>
                    {prepared.width}×{prepared.height}
                    {prepared.grayscale ? ' gray' : ''}
                  </figcaption>
                </figure>
              </>
            ) : null}
            <button type="button" className="btn btn--ghost btn--small" onClick={onClear} disabled={disabled}>
              Remove
            </button>
          </div>
        ) : null}
      </div>
      {note ? (
        <p className="note" data-testid="resize-note">
          {note}
        </p>
      ) : null}
      {error ? <span className="field__error">{error}</span> : null}
    </div>
  );
}
