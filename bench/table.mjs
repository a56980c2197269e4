// The report's tables: a title line (with the seconds since the report started, to see where
// its time goes), then a Markdown table with columns padded to their widest cell.
export function printTable(title, header, rows, log = console.log) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i] ?? '').length)));
  const line = (cells) => '| ' + cells.map((c, i) => String(c ?? '').padEnd(widths[i])).join(' | ') + ' |';
  log(`\n${title} [at ${Math.round(performance.now() / 1000)} s]`);
  log(line(header));
  log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
  for (const r of rows) log(line(r));
}
