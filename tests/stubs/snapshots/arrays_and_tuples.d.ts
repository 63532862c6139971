interface PlotInput {
  points: [number, number][];
  legacy_pair?: [string, number];
  /** @minItems 1 */ range?: [number, number?];
  header_then_rows?: [string, ...number[]];
  labels?: (string | number)[];
  anything?: unknown[];
}
/**
 * A tool error rejects with an Error holding the tool's message.
 * Promise<unknown> resolves to structuredContent, else to the text parsed as JSON, else the text.
 */
declare const codemode: {
  /** Plot points. */
  plot(input: PlotInput): Promise<unknown>;
};
