import { describe, expect, it } from "vitest";
import { type KeyPress, commandFor, isEditable, ownsClipboard } from "./shortcuts";

const press = (key: string, extra: Partial<KeyPress> = {}): KeyPress => ({
  key,
  ctrlKey: false,
  metaKey: false,
  shiftKey: false,
  inEditable: false,
  ...extra,
});
const ctrl = (key: string, extra: Partial<KeyPress> = {}) => press(key, { ctrlKey: true, ...extra });
const canvas = { dialogOpen: false, readOnly: false };
const dialog = { dialogOpen: true, readOnly: false };
const viewer = { dialogOpen: false, readOnly: true };

describe("commandFor", () => {
  it("maps the editing shortcuts on the canvas", () => {
    expect(commandFor(ctrl("z"), canvas)).toBe("undo");
    expect(commandFor(ctrl("Z", { shiftKey: true }), canvas)).toBe("redo");
    expect(commandFor(ctrl("y"), canvas)).toBe("redo");
    expect(commandFor(press("d", { metaKey: true }), canvas)).toBe("duplicate");
    expect(commandFor(ctrl("l"), canvas)).toBe("layout");
    expect(commandFor(ctrl("q"), canvas)).toBeNull();
    expect(commandFor(press("z"), canvas)).toBeNull();
  });

  it("saves from anywhere, even a text field or a dialog", () => {
    expect(commandFor(ctrl("s", { inEditable: true }), dialog)).toBe("save");
    expect(commandFor(ctrl("S"), viewer)).toBe("save");
  });

  it("lays out from a form field too, but not from a dialog", () => {
    expect(commandFor(ctrl("l", { inEditable: true }), canvas)).toBe("layout");
    expect(commandFor(ctrl("L", { inEditable: true }), canvas)).toBe("layout");
    expect(commandFor(ctrl("l"), dialog)).toBeNull();
    expect(commandFor(ctrl("y", { inEditable: true }), canvas)).toBeNull();
    expect(commandFor(ctrl("d", { inEditable: true }), canvas)).toBeNull();
  });

  it("leaves inputs and dialogs their own undo", () => {
    expect(commandFor(ctrl("z", { inEditable: true }), canvas)).toBeNull();
    expect(commandFor(ctrl("d"), dialog)).toBeNull();
  });

  it("deletes the selection with Delete or Backspace only on an editable canvas", () => {
    expect(commandFor(press("Delete"), canvas)).toBe("deleteSelection");
    expect(commandFor(press("Backspace"), canvas)).toBe("deleteSelection");
    expect(commandFor(press("Backspace", { inEditable: true }), canvas)).toBeNull();
    expect(commandFor(press("Delete"), dialog)).toBeNull();
    expect(commandFor(press("Delete"), viewer)).toBeNull();
  });
});

describe("ownsClipboard", () => {
  it("copies and pastes nodes on the canvas, a viewer only copies", () => {
    expect(ownsClipboard("copy", false, canvas)).toBe(true);
    expect(ownsClipboard("paste", false, canvas)).toBe(true);
    expect(ownsClipboard("copy", false, viewer)).toBe(true);
    expect(ownsClipboard("paste", false, viewer)).toBe(false);
  });
  it("leaves text fields and dialogs to the browser", () => {
    expect(ownsClipboard("copy", true, canvas)).toBe(false);
    expect(ownsClipboard("paste", false, dialog)).toBe(false);
  });
});

describe("isEditable", () => {
  it("knows text fields, selects and editable elements", () => {
    const el = (tagName: string, isContentEditable = false) => ({ tagName, isContentEditable }) as unknown as EventTarget;
    expect(isEditable(el("INPUT"))).toBe(true);
    expect(isEditable(el("TEXTAREA"))).toBe(true);
    expect(isEditable(el("SELECT"))).toBe(true);
    expect(isEditable(el("DIV", true))).toBe(true);
    expect(isEditable(el("DIV"))).toBe(false);
    expect(isEditable(null)).toBe(false);
  });
});
