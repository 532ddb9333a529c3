/**
 * What the CLI writes. Results go to stdout (a readable table, or JSON with `--json` for
 * scripts); diagnostics and errors go to stderr, so stdout stays parseable.
 */

export interface Io {
  stdout(text: string): void;
  stderr(text: string): void;
  /** The variables the CLI reads (DATABASE_URL, JWT_SECRET …), already merged with `.dev.vars`. */
  env: Readonly<Record<string, string | undefined>>;
  /** Folder that relative paths (`.turkey/`, backup folders) are resolved against. */
  cwd: string;
  /** Asks a yes/no question on the terminal; absent when there is no terminal to ask on. */
  confirm?: (question: string) => Promise<boolean>;
}

export interface Column<T> {
  key: keyof T & string;
  title: string;
  align?: "left" | "right";
}

/** A plain-text table with a header row; empty cells print as `-`. */
export function formatTable<T extends object>(rows: T[], columns: Column<T>[]): string {
  const cells = rows.map((row) => columns.map((column) => formatValue(row[column.key])));
  const widths = columns.map((column, i) =>
    Math.max(column.title.length, ...cells.map((line) => line[i]?.length ?? 0)),
  );
  const render = (values: string[]) =>
    values
      .map((value, i) => {
        const width = widths[i] ?? 0;
        return columns[i]?.align === "right" ? value.padStart(width) : value.padEnd(width);
      })
      .join("  ")
      .trimEnd();
  const header = render(columns.map((column) => column.title.toUpperCase()));
  return [header, ...cells.map(render)].join("\n");
}

/** `label: value` lines with the values aligned. */
export function formatFields(fields: [string, unknown][]): string {
  const width = Math.max(...fields.map(([label]) => label.length));
  return fields.map(([label, value]) => `${`${label}:`.padEnd(width + 1)} ${formatValue(value)}`).join("\n");
}

export function formatValue(value: unknown): string {
  if (value === null || value === undefined || value === "") return "-";
  if (value instanceof Date) return formatDate(value);
  if (typeof value === "boolean") return value ? "yes" : "no";
  return String(value);
}

/** UTC, to the second: the same reading on every operator's machine. */
export function formatDate(date: Date): string {
  return `${date.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

export function formatBytes(bytes: number): string {
  const units = ["bytes", "kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} bytes` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** A section heading followed by its body, separated from the next section by a blank line. */
export function section(title: string, body: string): string {
  return `${title}\n${body}\n`;
}

export function writeJson(io: Io, value: unknown): void {
  io.stdout(`${JSON.stringify(value, null, 2)}\n`);
}

export function writeLines(io: Io, ...lines: string[]): void {
  io.stdout(`${lines.join("\n")}\n`);
}

/** Library warnings (pg's note on sslmode semantics) on stderr in one line, not a paragraph. */
export function shortenWarnings(): void {
  process.removeAllListeners("warning");
  process.on("warning", (warning) => process.stderr.write(`Warning: ${warning.message.split("\n")[0]}\n`));
}
