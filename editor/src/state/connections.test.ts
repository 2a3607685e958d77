import { describe, expect, it } from "vitest";
import { UNKNOWN_CONNECTIONS, connectionWarning } from "./connections";

const listed = {
  available: true,
  detail: "",
  items: [
    { connection_id: "github_default", conn_type: "github" },
    { connection_id: "slack_webhook", conn_type: "http" },
  ],
};

describe("connectionWarning", () => {
  it("warns about an id Airflow does not have, naming those it has", () => {
    const warning = connectionWarning("githb_default", listed);
    expect(warning).toContain("no connection “githb_default”");
    expect(warning).toContain("github_default, slack_webhook");
  });

  it("is quiet for an existing id, an empty field, or when Airflow could not say", () => {
    expect(connectionWarning("github_default", listed)).toBeNull();
    expect(connectionWarning("", listed)).toBeNull();
    expect(connectionWarning(undefined, listed)).toBeNull();
    expect(connectionWarning("anything", UNKNOWN_CONNECTIONS)).toBeNull();
  });
});
