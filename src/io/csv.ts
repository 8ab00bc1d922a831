// A small RFC 4180 CSV reader and writer: comma-separated fields, optional double quotes around a field
// (a quote inside is written twice; a quoted field may hold commas and newlines), LF or CRLF line ends,
// an optional UTF-8 byte order mark. The first non-blank record is the header; blank lines are skipped.
// Every error names the source and the 1-based line. Browser-safe: no node: imports (read the text
// elsewhere and pass it in).

export interface CsvRecord {
  /** 1-based line on which the record starts. */
  readonly line: number;
  readonly fields: readonly string[];
}

export interface CsvTable {
  /** Name used in error messages (usually the file path). */
  readonly source: string;
  readonly header: readonly string[];
  readonly headerLine: number;
  readonly records: readonly CsvRecord[];
}

/** Splits `text` into records without interpreting a header. */
export function parseCsvRecords(text: string, sourceName: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  const n = text.length;
  while (i < n) {
    const startLine = line;
    const fields: string[] = [];
    let sawQuotedField = false;
    // One record: fields until an unquoted line end or the end of the text.
    for (;;) {
      let field = '';
      if (text[i] === '"') {
        sawQuotedField = true;
        const quoteLine = line;
        i++;
        for (;;) {
          if (i >= n) throw new Error(`${sourceName}:${quoteLine}: quoted field never closed (missing '"')`);
          const c = text[i]!;
          if (c === '"') {
            if (text[i + 1] === '"') { field += '"'; i += 2; continue; }
            i++;
            break;
          }
          if (c === '\n') line++;
          field += c;
          i++;
        }
        const next = text[i];
        if (i < n && next !== ',' && next !== '\n' && !(next === '\r' && text[i + 1] === '\n')) {
          throw new Error(`${sourceName}:${line}: unexpected ${JSON.stringify(next)} after a closing quote (field ${fields.length + 1})`);
        }
      } else {
        const start = i;
        while (i < n) {
          const c = text[i]!;
          if (c === ',' || c === '\n' || (c === '\r' && text[i + 1] === '\n')) break;
          if (c === '"') throw new Error(`${sourceName}:${line}: '"' inside unquoted field ${fields.length + 1} (quote the whole field and double the quote)`);
          i++;
        }
        field = text.slice(start, i);
      }
      fields.push(field);
      if (i >= n) break;
      if (text[i] === ',') { i++; continue; }
      // line end
      i += text[i] === '\r' ? 2 : 1;
      line++;
      break;
    }
    const blank = fields.length === 1 && fields[0] === '' && !sawQuotedField;
    if (!blank) records.push({ line: startLine, fields });
  }
  return records;
}

/**
 * Parses CSV text whose first non-blank record is a header of unique, non-empty column names (trimmed). Every
 * record must have as many fields as the header.
 */
export function parseCsv(text: string, sourceName: string): CsvTable {
  const all = parseCsvRecords(text, sourceName);
  if (all.length === 0) throw new Error(`${sourceName}: empty CSV (no header line)`);
  const head = all[0]!;
  const header = head.fields.map((h) => h.trim());
  header.forEach((h, c) => {
    if (h === '') throw new Error(`${sourceName}:${head.line}: header column ${c + 1} has no name`);
    const first = header.indexOf(h);
    if (first !== c) throw new Error(`${sourceName}:${head.line}: header names column '${h}' twice (columns ${first + 1} and ${c + 1})`);
  });
  const records = all.slice(1);
  for (const r of records) {
    if (r.fields.length !== header.length) {
      throw new Error(`${sourceName}:${r.line}: ${r.fields.length} field${r.fields.length === 1 ? '' : 's'}, but the header (line ${head.line}) has ${header.length} columns`);
    }
  }
  return { source: sourceName, header, headerLine: head.line, records };
}

/** Position of column `name`; throws naming the source and the columns it does have. */
export function csvColumnIndex(table: CsvTable, name: string): number {
  const c = table.header.indexOf(name);
  if (c < 0) throw new Error(`${table.source}: no column '${name}' (columns: ${table.header.join(', ')})`);
  return c;
}

const PLAIN_NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/**
 * A decimal number field (leading/trailing spaces allowed, nothing else: no hex, no 'NaN', no empty).
 * Returns undefined when the field is not one, so callers can name the file, line and column.
 */
export function parseCsvNumber(field: string): number | undefined {
  const s = field.trim();
  if (!PLAIN_NUMBER.test(s)) return undefined;
  const v = Number(s);
  return Number.isFinite(v) ? v : undefined;
}

/** One field, quoted only when it must be (comma, quote, line break, or edge spaces). */
export function formatCsvField(value: string | number): string {
  const s = typeof value === 'number' ? String(value) : value;
  if (/[",\r\n]/.test(s) || s !== s.trim()) return `"${s.replace(/"/g, '""')}"`;
  return s;
}

/** One record without the line end. A lone empty field is written as "" so it does not read as a blank line. */
export function formatCsvRow(values: readonly (string | number)[]): string {
  const line = values.map(formatCsvField).join(',');
  return line === '' && values.length === 1 ? '""' : line;
}
