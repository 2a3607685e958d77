/**
 * The workflow id the editor proposes for a name.
 *
 * Ids name the Airflow DAG and the stored record, so they keep to lowercase
 * letters, digits, "_" and "-", start with a letter or digit and fit the
 * platform's length limit; a name with nothing usable gives "workflow".
 */
export function slugify(name: string): string {
  return (
    name
      .toLowerCase()
      .replace(/[^a-z0-9_-]+/g, "-")
      .replace(/^[^a-z0-9]+/, "")
      .replace(/-+$/, "")
      .slice(0, 63) || "workflow"
  );
}
