// The live token heat-map: one column per frame, newest on the right. Row 0 is the text
// token (a colour per id; padding dark), rows 1.. are the audio codebooks, colour = code / card.
export class TokenGrid {
  constructor(canvas, { codebooks, card, paddingIds = [], columnWidth = 6 }) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.codebooks = codebooks;
    this.card = card;
    this.padding = new Set(paddingIds);
    this.columnWidth = columnWidth;
    this.capacity = Math.floor(canvas.width / columnWidth);
    this.columns = [];
    this.total = 0;
    this.draw();
  }

  clear() {
    this.columns = [];
    this.total = 0;
    this.draw();
  }

  push(textToken, codes) {
    this.columns.push({ textToken, codes: Array.from(codes) });
    this.total++;
    if (this.columns.length > this.capacity) this.columns.shift();
    this.draw();
  }

  // Viridis-like ramp, dark blue -> green -> yellow.
  static heat(x) {
    const stops = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
    const p = Math.min(0.9999, Math.max(0, x)) * (stops.length - 1);
    const i = Math.floor(p);
    const f = p - i;
    const [a, b] = [stops[i], stops[i + 1]];
    return `rgb(${a.map((v, k) => Math.round(v + (b[k] - v) * f)).join(',')})`;
  }

  draw() {
    const { ctx, canvas } = this;
    const rows = this.codebooks + 1;
    const rowHeight = canvas.height / rows;
    ctx.fillStyle = '#111';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    const x0 = canvas.width - this.columns.length * this.columnWidth;
    this.columns.forEach((col, c) => {
      const x = x0 + c * this.columnWidth;
      const t = col.textToken;
      ctx.fillStyle = this.padding.has(t) ? '#333' : `hsl(${(t * 137.5) % 360} 70% 55%)`;
      ctx.fillRect(x, 0, this.columnWidth - 1, rowHeight - 2);
      for (let k = 0; k < this.codebooks; k++) {
        const code = col.codes[k];
        ctx.fillStyle = code === undefined ? '#000' : TokenGrid.heat(code / (this.card - 1));
        ctx.fillRect(x, (k + 1) * rowHeight, this.columnWidth - 1, rowHeight - 1);
      }
    });
  }
}
