import { describe, expect, it } from "vitest";
import { HISTORY_LIMIT, canRedo, canUndo, record, redo, startHistory, undo } from "./history";

describe("undo/redo history", () => {
  it("undoes and redoes in order", () => {
    let h = startHistory({ n: 0 });
    h = record(h, { n: 1 });
    h = record(h, { n: 2 });
    h = undo(h);
    expect(h.present).toEqual({ n: 1 });
    h = undo(h);
    expect(h.present).toEqual({ n: 0 });
    expect(canUndo(h)).toBe(false);
    h = undo(h);
    expect(h.present).toEqual({ n: 0 });
    h = redo(h);
    h = redo(h);
    expect(h.present).toEqual({ n: 2 });
    expect(canRedo(h)).toBe(false);
  });

  it("drops the redo branch on a new edit", () => {
    let h = record(record(startHistory(0), 1), 2);
    h = record(undo(h), 5);
    expect(h.present).toBe(5);
    expect(canRedo(h)).toBe(false);
    expect(undo(h).present).toBe(1);
  });

  it("ignores snapshots equal to the present", () => {
    const h = record(startHistory({ a: [1] }), { a: [1] });
    expect(canUndo(h)).toBe(false);
  });

  it("keeps at most HISTORY_LIMIT undo steps", () => {
    let h = startHistory(0);
    for (let i = 1; i <= HISTORY_LIMIT + 20; i++) h = record(h, i);
    expect(h.past.length).toBe(HISTORY_LIMIT);
    expect(h.past[0]).toBe(20);
  });
});

describe("coalescing", () => {
  it("merges coalesced edits into the current undo step", () => {
    let h = record(startHistory("a"), "ab");
    h = record(h, "abc", { coalesce: true });
    h = record(h, "abcd", { coalesce: true });
    expect(h.present).toBe("abcd");
    expect(undo(h).present).toBe("a");
  });

  it("never coalesces into the initial state", () => {
    const h = record(startHistory("a"), "ab", { coalesce: true });
    expect(undo(h).present).toBe("a");
  });
});
