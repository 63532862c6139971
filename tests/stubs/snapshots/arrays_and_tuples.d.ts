interface PlotInput {
  points: [number, number][];
  legacy_pair?: [string, number];
  /** @minItems 1 */ range?: [number, number?];
  header_then_rows?: [string, ...number[]];
  labels?: (string | number)[];
  anything?: unknown[];
}
/**
 * Each method calls one tool and returns a Promise. A tool error rejects it with an Error carrying the tool's message.
 * Promise<unknown> resolves to the tool's structuredContent if present, else its text content parsed as JSON when it parses, else the raw text.
 */
declare const codemode: {
  /** Plot points. */
  plot(input: PlotInput): Promise<unknown>;
};
