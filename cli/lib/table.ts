/**
 * Aligned text tables for the operator commands. Cells are plain text plus an optional
 * colour, so widths are measured and long values cut on the text alone and colour codes never
 * break the alignment.
 *
 *   ACCOUNT  STATUS     ERROR
 *   @alice   completed
 *   @bob     failed     rate_limited
 */

export interface Column {
  header: string;
  /** Numbers read best right-aligned. */
  align?: "left" | "right";
  /** Longer values are cut to this many characters, ending in "…". */
  maxWidth?: number;
}

export type Cell = string | number | null | undefined | {
  text: string;
  color?: (text: string) => string;
};

export interface TableOptions {
  /** Put before every line (default two spaces). */
  indent?: string;
  /** Applied to the header row (e.g. bold or dim). */
  headerStyle?: (text: string) => string;
  /** Between columns (default two spaces). */
  gap?: string;
  /** Leave out the columns with no text in any row (header aside). */
  hideEmptyColumns?: boolean;
}

function cellText(cell: Cell): { text: string; color?: (text: string) => string } {
  if (cell === null || cell === undefined) return { text: "" };
  if (typeof cell === "object") return cell;
  return { text: String(cell) };
}

/** Cuts `text` to `max` characters (code points), marking the cut with "…". */
export function truncate(text: string, max: number): string {
  const oneLine = text.replace(/\s+/g, " ").trim();
  const chars = [...oneLine];
  if (chars.length <= max) return oneLine;
  return chars.slice(0, Math.max(0, max - 1)).join("") + "…";
}

const width = (text: string) => [...text].length;

/** The table as lines joined by "\n" (no trailing newline). */
export function renderTable(columns: Column[], rows: Cell[][], options: TableOptions = {}): string {
  if (options.hideEmptyColumns) {
    const keep = columns.map((_, i) => rows.some((row) => cellText(row[i]).text !== ""));
    if (keep.includes(false)) {
      return renderTable(
        columns.filter((_, i) => keep[i]),
        rows.map((row) => row.filter((_, i) => keep[i])),
        { ...options, hideEmptyColumns: false },
      );
    }
  }
  const indent = options.indent ?? "  ";
  const gap = options.gap ?? "  ";
  const body = rows.map((row) =>
    columns.map((column, i) => {
      const { text, color } = cellText(row[i]);
      return { text: column.maxWidth ? truncate(text, column.maxWidth) : text, color };
    })
  );
  const widths = columns.map((column, i) =>
    Math.max(width(column.header), ...body.map((row) => width(row[i].text)))
  );
  const line = (cells: { text: string; color?: (text: string) => string }[]) =>
    (indent + cells.map((cell, i) => {
      const pad = " ".repeat(widths[i] - width(cell.text));
      const styled = cell.color ? cell.color(cell.text) : cell.text;
      // The last column is not padded on the right: no trailing spaces.
      if (columns[i].align === "right") return pad + styled;
      return i === cells.length - 1 ? styled : styled + pad;
    }).join(gap)).trimEnd();
  const header = columns.map((column) => ({ text: column.header, color: options.headerStyle }));
  return [line(header), ...body.map(line)].join("\n");
}
