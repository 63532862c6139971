interface SetModeInput {
  mode: "fast" | "safe" | "it's \"quoted\"";
  level?: 1 | 2 | 3.5 | -1;
  mixed?: "auto" | 0 | true | null;
  kind: "fixed";
  shape?: {"x": 1} | [1, 2];
}
/**
 * A tool error rejects with an Error holding the tool's message.
 * Promise<unknown> resolves to structuredContent, else to the text parsed as JSON, else the text.
 */
declare const codemode: {
  /** Set the mode. */
  set_mode(input: SetModeInput): Promise<unknown>;
};
