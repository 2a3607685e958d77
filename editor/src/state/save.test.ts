import { describe, expect, it } from "vitest";
import { ApiError } from "../api/client";
import { saveFailure } from "./save";

describe("saveFailure", () => {
  it("treats a stale ETag as a conflict", () => {
    expect(saveFailure(new ApiError(412, { status: 412, detail: "Version 3 is current." }))).toEqual({
      kind: "conflict",
      message: "Version 3 is current.",
    });
    expect(saveFailure(new ApiError(409, { status: 409, title: "Conflict" })).kind).toBe("conflict");
  });

  it("hands the validator's problems back", () => {
    const err = new ApiError(422, { status: 422, errors: [{ node_id: "a", message: "missing label" }] });
    expect(saveFailure(err)).toEqual({ kind: "invalid", problems: [{ node_id: "a", edge_id: null, field: null, message: "missing label" }] });
  });

  it("reports anything else as an error", () => {
    expect(saveFailure(new ApiError(422, { status: 422, detail: "bad body" }))).toEqual({ kind: "error" });
    expect(saveFailure(new ApiError(500, { status: 500 }))).toEqual({ kind: "error" });
    expect(saveFailure(new TypeError("network"))).toEqual({ kind: "error" });
  });
});
