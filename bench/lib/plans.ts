/**
 * Reading query plans: which scans a statement's plan (EXPLAIN's JSON) uses, so the scale
 * bench and the plan test can both insist that hot statements go through their indexes.
 */

export interface Scan {
  node: string;
  relation?: string;
  index?: string;
}

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
  Plans?: PlanNode[];
}

/** Every scan node of an `EXPLAIN (FORMAT JSON)` result, depth first. */
export function scansOf(explain: unknown): Scan[] {
  const root = (explain as { Plan: PlanNode }[])[0]?.Plan;
  const scans: Scan[] = [];
  const visit = (node: PlanNode) => {
    if (node["Node Type"].includes("Scan")) {
      scans.push({ node: node["Node Type"], relation: node["Relation Name"], index: node["Index Name"] });
    }
    for (const child of node.Plans ?? []) visit(child);
  };
  if (root) visit(root);
  return scans;
}

/** The tables that grow with users and traffic; a sequential scan of one is a bug. */
export const LARGE_TABLES = ["users", "refresh_tokens", "revoked_jti", "email_tokens", "audit"];

export function sequentialScansOfLargeTables(scans: Scan[]): Scan[] {
  return scans.filter((scan) => scan.node === "Seq Scan" && LARGE_TABLES.includes(scan.relation ?? ""));
}
