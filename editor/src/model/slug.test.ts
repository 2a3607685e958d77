import { describe, expect, it } from "vitest";
import { slugify } from "./slug";

describe("slugify", () => {
  it("lowercases and joins words with dashes", () => {
    expect(slugify("Label New PRs!")).toBe("label-new-prs");
  });
  it("drops leading punctuation and trailing dashes", () => {
    expect(slugify("  --Nightly build--  ")).toBe("nightly-build");
  });
  it("keeps underscores and caps the length", () => {
    expect(slugify("a_b")).toBe("a_b");
    expect(slugify("x".repeat(100))).toHaveLength(63);
  });
  it("falls back to a fixed id when nothing is usable", () => {
    expect(slugify("!!!")).toBe("workflow");
  });
});
