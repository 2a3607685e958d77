/**
 * The palette: drag an entry onto the canvas (or click it to add it in view).
 * The drag carries the palette key; the canvas turns it into a node.
 */
import { PALETTE, type PaletteEntry } from "../model/catalogue";
import { TYPE_ICONS } from "./NodeCard";

export const DRAG_MIME = "application/x-autopr-node";

export function Palette({ onAdd, disabled }: { onAdd: (entry: PaletteEntry) => void; disabled?: boolean }) {
  return (
    <aside className="palette" aria-label="Node palette">
      <h2>Nodes</h2>
      <p className="hint">Drag onto the canvas</p>
      {PALETTE.map((group) => (
        <section key={group.type}>
          <h3>
            <span aria-hidden>{TYPE_ICONS[group.type]}</span> {group.title}
          </h3>
          {group.entries.map((entry) => (
            <button
              key={entry.key}
              type="button"
              className={`palette-item palette-${entry.type}`}
              draggable={!disabled}
              disabled={disabled}
              data-testid={`palette-${entry.key}`}
              title={entry.description}
              onDragStart={(e) => {
                e.dataTransfer.setData(DRAG_MIME, entry.key);
                e.dataTransfer.setData("text/plain", entry.key);
                e.dataTransfer.effectAllowed = "copy";
              }}
              onClick={() => onAdd(entry)}
            >
              {entry.title}
            </button>
          ))}
        </section>
      ))}
    </aside>
  );
}
