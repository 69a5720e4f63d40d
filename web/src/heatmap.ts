/**
 * Draws a matrix [rows, cols] (row-major values) into a canvas, one cell per value: blue below
 * zero, red above, white at zero, scaled by the largest magnitude so the pattern shows whatever
 * the vectors' size.
 */
export function drawHeatmap(canvas: HTMLCanvasElement, values: ArrayLike<number>, rows: number, cols: number): void {
  canvas.width = cols;
  canvas.height = rows;
  const context = canvas.getContext('2d');
  if (context === null) return;
  let largest = 1e-12;
  for (let i = 0; i < values.length; i++) largest = Math.max(largest, Math.abs(values[i]!));
  const image = context.createImageData(cols, rows);
  for (let i = 0; i < rows * cols; i++) {
    const v = values[i]! / largest; // in [-1, 1]
    const fade = Math.round(255 * (1 - Math.abs(v)));
    image.data.set(v >= 0 ? [255, fade, fade, 255] : [fade, fade, 255, 255], 4 * i);
  }
  context.putImageData(image, 0, 0);
  canvas.dataset.shape = `${rows}x${cols}`;
}
