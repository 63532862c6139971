interface SetEnvInput {
  "content-type": string;
  "2fa"?: boolean;
  "with space"?: string;
  $ok_id?: string;
  class?: string;
  "x\"y"?: string;
}
/**
 * Each method calls one tool and returns a Promise. A tool error rejects it with an Error carrying the tool's message.
 * Promise<unknown> resolves to the tool's structuredContent if present, else its text content parsed as JSON when it parses, else the raw text.
 */
declare const codemode: {
  /**
   * Set environment values.
   * @param input.class - Reserved words are fine as property names.
   */
  set_env(input: SetEnvInput): Promise<unknown>;
};
