interface SetModeInput {
  mode: "fast" | "safe" | "it's \"quoted\"";
  level?: 1 | 2 | 3.5 | -1;
  mixed?: "auto" | 0 | true | null;
  kind: "fixed";
  shape?: {"x": 1} | [1, 2];
}
/**
 * Each method calls one tool and returns a Promise. A tool error rejects it with an Error carrying the tool's message.
 * Promise<unknown> resolves to the tool's structuredContent if present, else its text content parsed as JSON when it parses, else the raw text.
 */
declare const codemode: {
  /** Set the mode. */
  set_mode(input: SetModeInput): Promise<unknown>;
};
